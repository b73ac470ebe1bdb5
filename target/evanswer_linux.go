//go:build linux

package target

import (
	"bytes"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// appendAnswer appends resp to dst as fasthttp's server would send it in answer to req
// (Server, Date, Content-Length and Connection fields; no body for HEAD); scratch is a
// buffer for the header, returned for reuse.
func appendAnswer(dst, scratch []byte, req *fasthttp.Request, resp *fasthttp.Response, closeConn bool) ([]byte, []byte) {
	resp.Header.SetServer(serverName)
	status := resp.StatusCode()
	body := resp.Body()
	noBody := status < 200 || status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified
	if !noBody {
		resp.Header.SetContentLength(len(body))
	}
	if closeConn {
		resp.Header.SetConnectionClose()
	} else if !req.Header.IsHTTP11() {
		resp.Header.Set(fasthttp.HeaderConnection, "keep-alive")
	}
	scratch = resp.Header.AppendBytes(scratch[:0])
	dst = append(dst, scratch...)
	if !noBody && !req.Header.IsHead() {
		dst = append(dst, body...)
	}
	return dst, scratch
}

// continueAnswer is sent once to a request that expects 100-continue while its body is
// not all there.
var continueAnswer = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// serve answers the whole requests at the start of data and returns what is left: part of
// a request, or requests behind one whose answer is made off the loop.
func (l *evLoop) serve(c *evConn, data []byte) []byte {
	for len(data) > 0 && !c.busy && !c.closing {
		n, err := c.frame.complete(data, readBufferSize, MaxBodySize)
		if err != nil {
			l.answerError(c, err)
			return nil
		}
		if n == 0 {
			if c.frame.expect100 && !c.sent100 {
				l.out = append(l.out, continueAnswer...)
				c.sent100 = true
			}
			return data
		}
		req := data[:n]
		data = data[n:]
		c.frame, c.sent100 = reqFrame{}, false
		l.request(c, req)
	}
	return data
}

// request parses and answers one whole request, at once or off the loop (see answersLater).
func (l *evLoop) request(c *evConn, raw []byte) {
	ctx := &l.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	if err := l.parse(&ctx.Request, raw); err != nil {
		l.answerError(c, err)
		return
	}
	path := ctx.Path()
	var delay time.Duration
	if !bytes.HasPrefix(path, []byte("/internal/")) {
		delay = l.srv.sh.chaos.Load().delay(path)
	}
	if delay > 0 || answersLater(path) {
		j := l.srv.getJob()
		j.l, j.c, j.delay = l, c, delay
		ctx.Request.CopyTo(&j.ctx.Request)
		c.busy = true
		l.srv.jobs.Add(1)
		j.ctx.Response.Header.SetNoDefaultContentType(true)
		if delay == 0 && l.srv.sh.startCheckout(&j.ctx, j.answered) {
			return
		}
		go l.srv.run(j)
		return
	}
	ctx.Response.Header.SetNoDefaultContentType(true)
	l.srv.sh.serve(ctx)
	closeConn := ctx.Request.Header.ConnectionClose() || ctx.Response.ConnectionClose() || l.stopping
	l.out, l.hdr = appendAnswer(l.out, l.hdr, &ctx.Request, &ctx.Response, closeConn)
	c.closing = c.closing || closeConn
}

// answersLater reports whether the answer to a request for path may wait (for an fsync, another
// checkout with its key, the Prometheus registry, the chaos state's lock): those are never
// made on the loop. A checkout waits for its commit without a goroutine (startCheckout);
// the others, and a checkout that must wait for its key, are made on one.
func answersLater(path []byte) bool {
	_, checkout := checkoutCartID(path)
	return checkout || bytes.HasPrefix(path, []byte("/internal/")) || string(path) == "/metrics"
}

// parse reads one whole request (as framed by reqFrame) into req.
func (l *evLoop) parse(req *fasthttp.Request, raw []byte) error {
	l.rd.Reset(raw)
	l.br.Reset(&l.rd)
	if err := req.ReadLimitBody(l.br, MaxBodySize); err != nil {
		return err
	}
	if req.MayContinue() {
		return req.ContinueReadBody(l.br, MaxBodySize)
	}
	return nil
}

// answerError answers a request that could not be framed or parsed (413, 431, 400, as
// fasthttp's server does through the shard's error handler) and closes after it.
func (l *evLoop) answerError(c *evConn, err error) {
	ctx := &l.ctx
	ctx.Response.Reset()
	ctx.Response.Header.SetNoDefaultContentType(true)
	switch {
	case errors.Is(err, errBodyTooLarge) || errors.Is(err, fasthttp.ErrBodyTooLarge):
		l.srv.sh.writeRequestError(ctx, fasthttp.StatusRequestEntityTooLarge, "")
	case errors.Is(err, errHeaderTooLarge):
		l.srv.sh.writeRequestError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "")
	default:
		l.srv.sh.writeRequestError(ctx, fasthttp.StatusBadRequest, err.Error())
	}
	// The request is not known: the answer is framed as to an HTTP/1.1 GET.
	ctx.Request.Reset()
	l.out, l.hdr = appendAnswer(l.out, l.hdr, &ctx.Request, &ctx.Response, true)
	c.closing = true
}

// loopJob is an answer made off the loop: on a goroutine, or by a checkout's commit.
type loopJob struct {
	ctx       fasthttp.RequestCtx
	l         *evLoop
	c         *evConn
	delay     time.Duration
	out, hdr  []byte
	closeConn bool
	abandoned bool   // shutdown's grace ended during the delay: no answer, the connection is closed
	answered  func() // frames the answer in ctx and hands the job to its loop (made once per job)
}

func newLoopJob() *loopJob {
	j := new(loopJob)
	j.answered = func() { j.l.srv.answered(j) }
	return j
}

func (srv *loopServer) getJob() *loopJob { return srv.jobsP.Get().(*loopJob) }

func (srv *loopServer) putJob(j *loopJob) {
	j.l, j.c, j.delay, j.closeConn, j.abandoned = nil, nil, 0, false, false
	j.ctx.Request.Reset()
	j.ctx.Response.Reset()
	if cap(j.out) > 64<<10 {
		j.out = nil
	}
	j.out = j.out[:0]
	srv.jobsP.Put(j)
}

// run makes j's answer (after its chaos delay) and hands it to its loop.
func (srv *loopServer) run(j *loopJob) {
	if j.delay > 0 {
		t := time.NewTimer(j.delay)
		select {
		case <-t.C:
		case <-srv.force:
			t.Stop()
			j.abandoned = true
			j.l.post(j)
			srv.jobs.Done()
			return
		}
	}
	srv.sh.serve(&j.ctx)
	srv.answered(j)
}

// answered frames the answer in j's ctx and hands j to its loop.
func (srv *loopServer) answered(j *loopJob) {
	ctx := &j.ctx
	select {
	case <-srv.quit:
		j.closeConn = true
	default:
		j.closeConn = ctx.Request.Header.ConnectionClose() || ctx.Response.ConnectionClose()
	}
	j.out, j.hdr = appendAnswer(j.out[:0], j.hdr, &ctx.Request, &ctx.Response, j.closeConn)
	j.l.post(j)
	srv.jobs.Done()
}
