package dashboard

import (
	"context"
	_ "embed" // the page
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

//go:embed page.html
var page []byte

// ServeHTTP serves the page at /, the frames as server-sent events at
// /events, and the final HTML report at /report once the run is over.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	case "/uplot.js":
		js, _ := report.UplotAssets()
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = io.WriteString(w, js)
	case "/uplot.css":
		_, css := report.UplotAssets()
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = io.WriteString(w, css)
	case "/events":
		d.serveEvents(w, r)
	case "/report":
		rep := d.finalReport()
		if rep == nil {
			http.Error(w, "the report is written when the run ends", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", `inline; filename="report.html"`)
		_, _ = w.Write(rep)
	default:
		http.NotFound(w, r)
	}
}

// serveEvents streams every frame (the kept history first) as a "frame"
// event, then an "end" event (End) when the run is over.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	d.follow(1)
	defer d.follow(-1)
	n := 0
	for {
		frames, next, end, wake := d.since(n)
		for _, f := range frames {
			if _, err := fmt.Fprintf(w, "event: frame\ndata: %s\n\n", f); err != nil {
				return
			}
		}
		n = next
		if end != nil {
			_, _ = fmt.Fprintf(w, "event: end\ndata: %s\n\n", end)
			fl.Flush()
			return
		}
		fl.Flush()
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
	}
}

// Serve listens on addr and serves h until ctx ends. It returns the
// address listened on (a port 0 made real) and a channel closed when the
// server has stopped.
func Serve(ctx context.Context, addr string, h http.Handler) (string, <-chan struct{}, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("dashboard: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed at the end; a failed accept ends the page only
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close() // the event streams outlive Shutdown's wait
	}()
	return ln.Addr().String(), done, nil
}

// Loopback reports whether addr's host is a loopback address ("localhost"
// or 127.0.0.0/8, ::1); an empty host listens everywhere.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
