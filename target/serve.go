package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Servers a shard can serve HTTP with (ShardConfig.Server).
const (
	// ServerLoop serves every connection as a small state machine on event loops (epoll),
	// the default where available (Linux): an idle keep-alive connection costs its socket
	// and a few dozen bytes, and a request no goroutine wake-up.
	ServerLoop = "loop"
	// ServerGoroutines serves each connection on its own goroutine (fasthttp's server), the
	// default elsewhere.
	ServerGoroutines = "goroutines"
)

// serverName is the Server header of every answer.
const serverName = "agentstorm-target"

// ServerEnv names the environment variable that picks a shard's server (ServerLoop or
// ServerGoroutines) when its --server flag is not given, so that a benchmark can compare
// them through a supervisor.
const ServerEnv = "AGENTSTORM_SHARD_SERVER"

// httpServer is how a shard serves HTTP.
type httpServer interface {
	addr() net.Addr
	stats() *connStats
	// shutdown stops accepting and closes idle connections, lets requests in flight finish
	// for grace, then closes every connection; it returns once nothing is served any more.
	shutdown(grace time.Duration) error
}

// startServer starts the server cfg asks for, serving s.
func startServer(s *Shard, cfg ShardConfig) (httpServer, error) {
	switch cfg.Server {
	case "", ServerLoop:
		if hasLoopServer {
			return startLoopServer(s, cfg.Listen, cfg.Loops, cfg.MaxConns, cfg.Logf)
		}
		if cfg.Server == ServerLoop {
			return nil, errors.New("server \"loop\": event loops need Linux (epoll); use \"goroutines\"")
		}
		return startGoroutineServer(s, cfg)
	case ServerGoroutines:
		return startGoroutineServer(s, cfg)
	}
	return nil, fmt.Errorf("server %q: want %q or %q", cfg.Server, ServerLoop, ServerGoroutines)
}

// goroutineServer is fasthttp's server over a resilientListener: a goroutine per
// connection.
type goroutineServer struct {
	ln   *resilientListener
	srv  *fasthttp.Server
	done chan error
}

func startGoroutineServer(s *Shard, cfg ShardConfig) (*goroutineServer, error) {
	inner, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	g := &goroutineServer{ln: newResilientListener(inner, cfg.MaxConns, cfg.Logf), done: make(chan error, 1)}
	g.srv = &fasthttp.Server{
		Handler:              s.handle,
		ErrorHandler:         s.handleServerError,
		Name:                 serverName,
		Concurrency:          cfg.MaxConns + 64, // the listener enforces MaxConns; this is a backstop
		ReadBufferSize:       readBufferSize,
		WriteBufferSize:      writeBufferSize,
		MaxRequestBodySize:   MaxBodySize,
		IdleTimeout:          idleTimeout,
		ReduceMemoryUsage:    true,
		NoDefaultContentType: true,
		CloseOnShutdown:      true,
		Logger:               logfLogger(cfg.Logf),
	}
	go func() { g.done <- g.srv.Serve(g.ln) }()
	return g, nil
}

func (g *goroutineServer) addr() net.Addr    { return g.ln.Addr() }
func (g *goroutineServer) stats() *connStats { return &g.ln.connStats }

func (g *goroutineServer) shutdown(grace time.Duration) error {
	// Requests in flight get a grace period; then every connection still open is closed
	// (fasthttp leaves connections that never sent a request open until they do).
	t := time.AfterFunc(grace, g.ln.closeAll)
	defer t.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), grace+2*time.Second)
	defer cancel()
	var errs []error
	if err := g.srv.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down HTTP server: %w", err))
	}
	// Shutdown does nothing if Serve has not registered the listener yet (Close right
	// after StartShard); closing it ourselves makes Serve return in every case.
	_ = g.ln.Close()
	if err := <-g.done; err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("serve: %w", err))
	}
	return errors.Join(errs...)
}

// logfLogger adapts a printf function to fasthttp.Logger.
type logfLogger func(format string, args ...any)

// Printf logs one line.
func (l logfLogger) Printf(format string, args ...any) { l(format, args...) }
