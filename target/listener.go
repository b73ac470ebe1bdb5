package target

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxConns is the connection cap of a shard when ShardConfig.MaxConns is 0: well
// below the 20,000 open files a process may hold here, leaving room for the store and for
// accepting (and refusing) connections over the cap.
const DefaultMaxConns = 18000

// Backoff bounds of resilientListener when the process runs out of descriptors.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// connStats counts a shard's client connections, whichever server accepts them (the
// /metrics gauges and counters read it).
type connStats struct {
	open    atomic.Int64  // accepted connections not yet closed
	retries atomic.Uint64 // accept errors survived
	refused atomic.Uint64 // connections refused over the cap
}

// resilientListener wraps a net.Listener so that running out of file descriptors (EMFILE,
// ENFILE, ENOBUFS, ENOMEM) or a connection aborted before accept makes Accept wait and retry
// instead of returning an error, which would stop fasthttp's Serve for good. It counts the
// connections it handed out that are still open and, with maxConns > 0, answers connections
// over that cap with a JSON 503 and closes them instead of handing them out.
type resilientListener struct {
	net.Listener
	connStats
	maxConns int64
	closed   chan struct{}
	once     sync.Once
	logf     func(format string, args ...any)

	mu    sync.Mutex
	conns map[*countedConn]struct{} // open connections, for closeAll
}

func newResilientListener(ln net.Listener, maxConns int, logf func(string, ...any)) *resilientListener {
	return &resilientListener{Listener: ln, maxConns: int64(maxConns), closed: make(chan struct{}), logf: logf, conns: make(map[*countedConn]struct{})}
}

// overCapAnswer is sent on connections over the cap.
var overCapAnswer = func() []byte {
	body := `{"error":"this shard holds its maximum of open connections; retry later or spread the load over more shards"}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// refuse answers c with a 503 and closes it. It reads what the client sent first (briefly),
// so that closing does not reset the connection before the client has read the answer.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	var buf [4096]byte
	_, _ = c.Read(buf[:])
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(overCapAnswer)
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Read(buf[:])
}

// retryableAcceptError reports whether err is a transient accept failure worth retrying.
func retryableAcceptError(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR)
}

// Accept returns the next connection, waiting out descriptor exhaustion.
func (l *resilientListener) Accept() (net.Conn, error) {
	backoff := minAcceptBackoff
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if l.maxConns > 0 && l.open.Load() >= l.maxConns {
				l.refused.Add(1)
				go refuse(c)
				continue
			}
			l.open.Add(1)
			cc := &countedConn{Conn: c, l: l}
			l.mu.Lock()
			l.conns[cc] = struct{}{}
			l.mu.Unlock()
			return cc, nil
		}
		if !retryableAcceptError(err) {
			return nil, err
		}
		n := l.retries.Add(1)
		if l.logf != nil && (n == 1 || n%1000 == 0) {
			l.logf("accept failed (%v, %d times so far); keeping the open connections and retrying in %v", err, n, backoff)
		}
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		case <-time.After(backoff):
		}
		backoff *= 2
		if backoff > maxAcceptBackoff {
			backoff = maxAcceptBackoff
		}
	}
}

// Close closes the inner listener and ends any backoff wait.
func (l *resilientListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// countedConn decrements its listener's open count once when closed.
type countedConn struct {
	net.Conn
	l    *resilientListener
	once atomic.Bool
}

// Close closes the connection.
func (c *countedConn) Close() error {
	if c.once.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}

// closeAll closes every connection still open (those fasthttp's graceful shutdown does not
// close: connections that never sent a request, or requests stuck past the grace period).
func (l *resilientListener) closeAll() {
	l.mu.Lock()
	conns := make([]*countedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
