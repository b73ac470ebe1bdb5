//go:build linux

package target

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/internal/sock"
)

// event handles one socket event of a connection.
func (l *evLoop) event(fd int, ev uint32) {
	if fd >= len(l.conns) || l.conns[fd] == nil {
		return
	}
	c := l.conns[fd]
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		l.close(c)
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(c.pending) > 0 {
		if l.writePending(c) {
			// What arrived while the answers waited raised its event then: read it now.
			l.drive(c)
		}
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		l.drive(c)
	}
}

// deliver writes the answers made off the loop since the last round.
func (l *evLoop) deliver() {
	l.mu.Lock()
	mail := l.mail
	l.mail = l.spare[:0]
	l.mu.Unlock()
	for i, j := range mail {
		mail[i] = nil
		c := j.c
		if c.fd >= 0 {
			c.busy = false
			if j.abandoned {
				l.close(c)
			} else {
				l.out = append(l.out[:0], j.out...)
				c.closing = c.closing || j.closeConn
				l.flush(c)
				// What the client sent meanwhile (pipelined requests) is answered now.
				l.drive(c)
			}
		}
		l.srv.putJob(j)
	}
	l.spare = mail[:0]
}

// writePending writes what an earlier write left; it reports whether c may go on (all
// written and c still open).
func (l *evLoop) writePending(c *evConn) bool {
	n, err := sock.Write(c.fd, c.pending)
	if err != nil && err != unix.EAGAIN {
		l.close(c)
		return false
	}
	if n > 0 {
		c.pending = c.pending[n:]
	}
	if len(c.pending) > 0 {
		return false
	}
	c.pending = nil
	if c.closing {
		l.close(c)
		return false
	}
	return true
}

// flush writes l.out (the answers made for c in this round) to c.
func (l *evLoop) flush(c *evConn) {
	if len(l.out) == 0 {
		return
	}
	out := l.out
	l.out = l.out[:0]
	if len(c.pending) > 0 {
		c.pending = append(c.pending, out...)
		return
	}
	n, err := sock.Write(c.fd, out)
	if err != nil && err != unix.EAGAIN {
		l.close(c)
		return
	}
	n = max(n, 0)
	if n < len(out) {
		c.pending = append([]byte(nil), out[n:]...)
		return
	}
	if c.closing {
		l.close(c)
	}
}

// drive reads what c's socket holds and answers every whole request, until the socket is
// drained, c waits for an answer made off the loop or for its socket to take more of
// its answers, or c is closed.
func (l *evLoop) drive(c *evConn) {
	for c.fd >= 0 && !c.busy && len(c.pending) == 0 && !c.closing {
		if len(c.in) > 0 {
			// Requests buffered from earlier reads come first.
			rest := l.serve(c, c.in)
			c.in = c.in[:copy(c.in, rest)]
			l.flush(c)
			if c.fd < 0 || c.busy || len(c.pending) > 0 || c.closing {
				return
			}
		}
		var buf []byte
		if len(c.in) == 0 {
			c.in = nil
			buf = l.rbuf
		} else {
			if cap(c.in)-len(c.in) < 4096 {
				c.in = append(c.in, make([]byte, 4096)...)[:len(c.in)]
			}
			buf = c.in[len(c.in):cap(c.in)]
		}
		n, err := sock.Read(c.fd, buf)
		if err == unix.EAGAIN {
			return
		}
		if err != nil || n == 0 {
			l.close(c)
			return
		}
		c.last = l.now
		if len(c.in) > 0 {
			c.in = c.in[:len(c.in)+n]
		} else if rest := l.serve(c, buf[:n]); len(rest) > 0 {
			// Part of a request (or pipelined ones behind an answer that waits): kept
			// until the rest comes or the answer is written.
			c.in = append(make([]byte, 0, max(len(rest), 1024)), rest...)
		}
		l.flush(c)
		if n < len(buf) && len(c.in) == 0 {
			return // the socket is drained: the next request will raise a new event
		}
	}
}

// evConn is one client connection of a loop: its socket and the little state kept between
// requests. Buffers are the loop's, lent while a request is served; a connection keeps
// bytes of its own only for part of a request, or answers its socket has not taken yet.
type evConn struct {
	fd      int
	in      []byte    // received, not yet answered (part of a request, or pipelined ones)
	pending []byte    // answers not yet written (the socket's buffer was full)
	frame   reqFrame  // progress of the request at the start of in
	last    time.Time // when it last sent something (idle timeout)
	busy    bool      // an answer is being made off the loop
	closing bool      // close once the answers are written
	sent100 bool      // 100 Continue sent for the request at the start of in
}

// idle reports whether c waits for a request with nothing received and nothing to write
// (what a graceful shutdown closes at once).
func (c *evConn) idle() bool { return !c.busy && len(c.in) == 0 && len(c.pending) == 0 }
