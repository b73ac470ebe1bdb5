package agents

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults of the transport. A request's bytes are built in a buffer of the
// 512-byte class; an answer is read through a pooled bufio.Reader whose size
// bounds the response header (fasthttp needs the whole header buffered).
const (
	writeBufSize    = 512
	readBufSize     = 1024
	maxPooledBufs   = 1024
	perSourceLimit  = 10000 // connections per (source IP, destination) pair, well under the ~28k ephemeral range
	maxLoopbackSrcs = 250
)

// endpoint is one resolved base URL: where to dial and what goes into the
// Host header.
type endpoint struct {
	raw      string       // the URL as given
	host     string       // Host header value: host[:port] as written in the URL
	prefix   string       // the URL's path without a trailing slash: put before each request's path
	addr     string       // what to dial: resolved ip:port, or name:port when resolution failed
	tcp      *net.TCPAddr // addr resolved; nil when resolution failed
	tls      *tls.Config  // nil for http
	loopback bool         // the destination is a loopback address (source spreading applies)
}

// parseEndpoint resolves a base URL ("http://host:port" or "https://...").
// A name that does not resolve is kept: every dial then fails with a DNS
// error, which is counted, rather than refusing to start.
func parseEndpoint(raw string, insecure bool) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target URL %q: %w", raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target URL %q: no host (want http://host:port or https://host:port)", raw)
	}
	ep := &endpoint{raw: raw, host: u.Host, prefix: strings.TrimSuffix(u.Path, "/")}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
		ep.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	default:
		return nil, fmt.Errorf("target URL %q: scheme %q is not supported (want http or https)", raw, u.Scheme)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("target URL %q: bad port %q", raw, port)
	}
	hostname := u.Hostname()
	ep.addr = net.JoinHostPort(hostname, port)
	var ip net.IP
	if ip = net.ParseIP(hostname); ip == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", hostname)
		cancel()
		if err == nil && len(ips) > 0 {
			ip = ips[0]
			for _, c := range ips { // prefer IPv4: source spreading works on 127.0.0.0/8
				if c.To4() != nil {
					ip = c
					break
				}
			}
		}
	}
	if ip != nil {
		ep.addr = net.JoinHostPort(ip.String(), port)
		p, _ := strconv.Atoi(port)
		ep.tcp = &net.TCPAddr{IP: ip, Port: p}
		ep.loopback = ip.IsLoopback() && ip.To4() != nil
	}
	return ep, nil
}

// dialer opens the agents' connections. Each agent dials from a fixed source
// address (chosen by its id) so no (source, destination) pair comes near the
// ephemeral port range; every socket closes with linger 0 so a finished run
// leaves no TIME_WAIT behind.
type dialer struct {
	timeout  time.Duration
	plain    net.Dialer   // no source address: the kernel picks
	loop     []net.Dialer // loopback spreading: 127.0.0.2, 127.0.0.3, ...
	explicit []net.Dialer // --source-addr list, for any destination
}

// newDialer prepares source spreading for up to maxAgents agents.
// sources, when given, are used for every destination; otherwise loopback
// destinations get ceil(maxAgents/perSourceLimit)+1 addresses from 127.0.0.2 on.
func newDialer(timeout time.Duration, maxAgents int, sources []net.IP) *dialer {
	d := &dialer{timeout: timeout}
	d.plain = net.Dialer{Timeout: timeout, Control: socketControl(false)}
	for _, ip := range sources {
		d.explicit = append(d.explicit, net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: ip}, Control: socketControl(true)})
	}
	n := maxAgents/perSourceLimit + 1
	if n > maxLoopbackSrcs {
		n = maxLoopbackSrcs
	}
	for i := 0; i < n; i++ {
		ip := net.IPv4(127, 0, 0, byte(2+i))
		d.loop = append(d.loop, net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: ip}, Control: socketControl(true)})
	}
	return d
}

// sourceFor returns the dialer agent id uses for ep.
func (d *dialer) sourceFor(ep *endpoint, agentID int) *net.Dialer {
	switch {
	case len(d.explicit) > 0:
		return &d.explicit[agentID%len(d.explicit)]
	case ep.loopback && len(d.loop) > 0:
		return &d.loop[agentID%len(d.loop)]
	default:
		return &d.plain
	}
}

// sourceIP returns the address agent agentID dials ep from (nil: the
// kernel picks), for the event loops' own connects.
func (d *dialer) sourceIP(ep *endpoint, agentID int) net.IP {
	if la, ok := d.sourceFor(ep, agentID).LocalAddr.(*net.TCPAddr); ok && la != nil {
		return la.IP
	}
	return nil
}

// dial connects agent agentID to ep, doing the TLS handshake for https.
func (d *dialer) dial(ctx context.Context, ep *endpoint, agentID int) (net.Conn, error) {
	nd := d.sourceFor(ep, agentID)
	c, err := nd.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep.addr, err)
	}
	if ep.tls == nil {
		return c, nil
	}
	tc := tls.Client(c, ep.tls)
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		c.Close()
		return nil, &tlsError{err: fmt.Errorf("TLS handshake with %s: %w", ep.addr, err)}
	}
	return tc, nil
}

// tlsError marks a failure of the TLS handshake.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// errClass is the transport's classification of a failed or finished call.
// It maps one to one onto report.Outcome (see outcomeOf).
type errClass uint8

const (
	classOK errClass = iota
	classBadStatus
	classExpectFailed
	classRefused
	classReset
	classTimeout
	classDNS
	classTLS
	classOther
	classBodyTooLarge
	classHeaderTooLarge
)

// String names the class as the summary shows it.
func (c errClass) String() string {
	return [...]string{"ok", "bad status", "failed expectation", "connect refused", "reset", "timeout", "dns", "tls", "other",
		"body too large", "header too large"}[c]
}

// classify maps a transport error to its class.
func classify(err error) errClass {
	switch {
	case err == nil:
		return classOK
	case err == errCallTimeout || err == errDialTimeout: // an overloaded target's many timeouts
		return classTimeout
	case errors.Is(err, errBodyTooLarge):
		return classBodyTooLarge
	case errors.Is(err, errHeaderTooLarge):
		return classHeaderTooLarge
	case isA[*net.DNSError](err):
		return classDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return classRefused
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	case isA[*tls.CertificateVerificationError](err), isA[tls.RecordHeaderError](err), isA[tls.AlertError](err),
		isA[x509.UnknownAuthorityError](err), isA[x509.HostnameError](err), isA[x509.CertificateInvalidError](err), isTLSAlert(err):
		return classTLS
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return classReset
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return classTimeout
	}
	if isA[*tlsError](err) {
		return classTLS
	}
	return classOther
}

// isA reports whether err's chain holds an error of type T (errors.AsType,
// which does not make its target escape as errors.As does).
func isA[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// The timeouts the event loops report. Only their class is recorded, so a
// storm's thousands of timeouts a second allocate no error each.
var (
	errCallTimeout = fmt.Errorf("read answer: %w", os.ErrDeadlineExceeded)
	errDialTimeout = fmt.Errorf("dial: %w", os.ErrDeadlineExceeded)
)

// trackedConn sits between an agent's connection and the pooled
// bufio.Reader: it remembers the last read error (fasthttp folds every error
// on the first byte into io.EOF) and how many bytes this call has read, so a
// keep-alive connection the server closed while the agent was thinking can be
// told from a real failure and retried on a fresh connection.
//
// (Waiting for readability before the first read system call, to save the
// read that fails with EAGAIN, does not work through syscall.RawConn: its
// Read resets the poller's ready flag first, so an answer that arrived in
// between is never signalled.)
type trackedConn struct {
	c        net.Conn
	deadline time.Time // the deadline set on c (zero: none)
	err      error
	n        int
}

// reset points t at a new connection (nil to forget it).
func (t *trackedConn) reset(c net.Conn) {
	t.c, t.deadline = c, time.Time{}
}

// setDeadline makes the connection's deadline fall in [d, d+slack]. Moving
// a deadline costs a runtime timer update, so an agent that calls often
// moves it at most once per slack.
func (t *trackedConn) setDeadline(d time.Time, slack time.Duration) error {
	if !t.deadline.IsZero() && !t.deadline.Before(d) && !t.deadline.After(d.Add(slack)) {
		return nil
	}
	t.deadline = d.Add(slack)
	return t.c.SetDeadline(t.deadline)
}

// Read reads from the connection, remembering the error and byte count.
func (t *trackedConn) Read(p []byte) (int, error) {
	n, err := t.c.Read(p)
	t.n += n
	if err != nil {
		t.err = err
	}
	return n, err
}

// isSmallBuffer reports whether err is fasthttp's "header larger than the
// read buffer" error.
func isSmallBuffer(err error) bool {
	var small *fasthttp.ErrSmallBuffer
	return errors.As(err, &small)
}

// prefixReader reads pre, then r.
type prefixReader struct {
	pre []byte
	r   io.Reader
}

// Read reads from the prefix first, then from the underlying reader.
func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// callBufs is what one call borrows: the request bytes, the read buffer and
// the parsed response. Everything goes back to the pool before the agent
// thinks, so an idle agent holds none of it.
type callBufs struct {
	w    []byte
	br   *bufio.Reader
	resp fasthttp.Response
	peek func(name string) []byte // resp.Header.Peek, bound once so captures don't allocate
	big  *bufio.Reader            // for answers whose header does not fit br; nil until needed
	pre  prefixReader
}

// bufPool hands out callBufs. It keeps at most max of them: after a burst
// (every agent in a call at once, as when a storm starts) the extra buffers
// go to the garbage collector instead of staying pinned by the pool.
type bufPool struct {
	mu       sync.Mutex
	free     []*callBufs
	max      int
	readSize int
}

func newBufPool(readSize, max int) *bufPool {
	return &bufPool{readSize: readSize, max: max}
}

func (bp *bufPool) get() *callBufs {
	bp.mu.Lock()
	if n := len(bp.free); n > 0 {
		cb := bp.free[n-1]
		bp.free[n-1] = nil
		bp.free = bp.free[:n-1]
		bp.mu.Unlock()
		return cb
	}
	bp.mu.Unlock()
	cb := &callBufs{w: make([]byte, 0, writeBufSize), br: bufio.NewReaderSize(nil, bp.readSize)}
	cb.peek = cb.resp.Header.Peek
	return cb
}

func (bp *bufPool) put(cb *callBufs) {
	cb.resp.Reset()
	cb.br.Reset(nil)
	if cb.big != nil {
		cb.big.Reset(nil)
		cb.pre = prefixReader{}
	}
	if cap(cb.w) > 64<<10 { // don't keep a one-off huge request body alive
		cb.w = make([]byte, 0, writeBufSize)
	}
	cb.w = cb.w[:0]
	bp.mu.Lock()
	if len(bp.free) < bp.max {
		bp.free = append(bp.free, cb)
	}
	bp.mu.Unlock()
}

// exchange writes req on tc's connection and reads one answer into cb.resp,
// all before deadline. It reports whether anything of the answer was read.
//
// The deadline may fall up to slack later (see trackedConn.setDeadline).
// maxBody and maxHeader are the answer's caps (Config.MaxBodySize,
// MaxHeaderSize).
func exchange(tc *trackedConn, cb *callBufs, req []byte, deadline time.Time, slack time.Duration, maxBody, maxHeader int) (readAny bool, err error) {
	if err := tc.setDeadline(deadline, slack); err != nil {
		return false, fmt.Errorf("set deadline: %w", err)
	}
	tc.err, tc.n = nil, 0
	if _, err := tc.c.Write(req); err != nil {
		return false, fmt.Errorf("write request: %w", err)
	}
	cb.br.Reset(tc)
	err = cb.resp.ReadLimitBody(cb.br, maxBody)
	if err != nil && isSmallBuffer(err) {
		// The answer's header is larger than the pooled read buffer. It was
		// only peeked at, nothing is consumed: parse it again through a
		// large reader fed first with what the small one holds.
		buffered, _ := cb.br.Peek(cb.br.Buffered())
		cb.pre = prefixReader{pre: buffered, r: tc}
		if cb.big == nil || cb.big.Size() < maxHeader {
			cb.big = bufio.NewReaderSize(&cb.pre, maxHeader)
		} else {
			cb.big.Reset(&cb.pre)
		}
		err = cb.resp.ReadLimitBody(cb.big, maxBody)
		if isSmallBuffer(err) {
			err = fmt.Errorf("%w: cap %d bytes", errHeaderTooLarge, maxHeader)
		}
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		err = fmt.Errorf("%w: cap %d bytes", errBodyTooLarge, maxBody)
	}
	if err != nil {
		if tc.err != nil && tc.err != io.EOF {
			// the connection's own error says more than fasthttp's folded one
			return tc.n > 0, fmt.Errorf("read answer: %w", tc.err)
		}
		if tc.n == 0 {
			return false, fmt.Errorf("read answer: connection closed before any byte: %w", io.EOF)
		}
		return true, fmt.Errorf("read answer: %w", err)
	}
	return true, nil
}

// ParseSourceAddrs parses a --source-addr list of IP addresses (blank
// entries are skipped).
func ParseSourceAddrs(list []string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address", s)
		}
		out = append(out, ip)
	}
	return out, nil
}
