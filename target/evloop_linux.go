//go:build linux

package target

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/internal/epoll"
	"github.com/agentstorm/agentstorm/internal/sock"
)

// hasLoopServer reports whether shards can serve on event loops here (Linux: epoll).
const hasLoopServer = true

// loopServer serves a shard's HTTP/1.1 on event loops: one goroutine per loop runs every
// connection it accepted as a small state machine over its own epoll instance, so an idle
// keep-alive connection costs its socket and an evConn, not a parked goroutine with its
// stack and buffers (at agent-like load, connections idle between requests most of the
// time, waking a goroutine per request was a quarter of a shard's CPU). Requests are
// parsed and answered with fasthttp's Request and Response, by the shard's own handler.
//
// An answer that must wait (a checkout waits for its fsync; chaos latency holds an answer)
// is made on a goroutine, and the connection reads nothing more until it is written, so
// pipelined answers keep their order.
type loopServer struct {
	sh       *Shard
	lnfd     int
	laddr    net.Addr
	maxConns int64
	logf     func(format string, args ...any)
	st       connStats

	loops  []*evLoop
	loopWG sync.WaitGroup // the loops' goroutines
	jobs   sync.WaitGroup // answers being made off the loops
	quit   chan struct{}  // closed at shutdown: answers say Connection: close
	force  chan struct{}  // closed when shutdown's grace is over: delayed answers are dropped
	jobsP  sync.Pool      // *loopJob
	once   sync.Once
}

// Tags of the epoll events that are not connections.
const (
	tagWake     = -1
	tagListener = -2
)

// Event-loop tuning.
const (
	loopReadBuf     = 64 << 10 // a loop's shared read buffer
	loopTick        = time.Second
	maxAcceptsBatch = 1024 // accepts per listener event before the loop serves its connections
)

// startLoopServer listens on addr and starts loops event loops (0: GOMAXPROCS).
func startLoopServer(sh *Shard, addr string, loops, maxConns int, logf func(string, ...any)) (*loopServer, error) {
	lnfd, laddr, err := listenTCP(addr)
	if err != nil {
		return nil, err
	}
	if loops <= 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	srv := &loopServer{sh: sh, lnfd: lnfd, laddr: laddr, maxConns: int64(maxConns), logf: logf, quit: make(chan struct{}), force: make(chan struct{})}
	srv.jobsP.New = func() any { return newLoopJob() }
	for range loops {
		l, err := newEvLoop(srv)
		if err != nil {
			for _, l := range srv.loops {
				l.Close()
			}
			unix.Close(lnfd)
			return nil, err
		}
		// With a P to spare for the shard's goroutines (the committer, answers
		// made on goroutines), a loop sleeps in a raw wait (see epoll.Set.Raw).
		// The order log's writers (the committer, the order worker) keep that
		// P through their raw writes and syncs (see fdatasync): the others
		// wait at most one commit for it.
		l.Raw = loops < runtime.GOMAXPROCS(0)
		srv.loops = append(srv.loops, l)
	}
	for _, l := range srv.loops {
		srv.loopWG.Add(1)
		go l.run()
	}
	return srv, nil
}

// listenTCP opens a non-blocking listening socket on addr.
func listenTCP(addr string) (int, net.Addr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	family, ip := unix.AF_INET, ta.IP
	if ip == nil {
		ip = net.IPv4zero
	} else if ip.To4() == nil {
		family = unix.AF_INET6
	}
	sa, err := sock.Addr(family, ip, ta.Port)
	if err != nil {
		return -1, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("listen on %s: socket: %w", addr, err)
	}
	fail := func(what string, err error) (int, net.Addr, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("listen on %s: %s: %w", addr, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("set SO_REUSEADDR", err)
	}
	// Accepted sockets inherit TCP_NODELAY from the listener: one system call
	// for all instead of one for each of a storm's tens of thousands.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("set TCP_NODELAY", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	// The kernel caps the backlog at net.core.somaxconn, as Go's net.Listen asks.
	if err := unix.Listen(fd, 65535); err != nil {
		return fail("listen", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, sock.TCPAddr(got), nil
}

func (srv *loopServer) addr() net.Addr    { return srv.laddr }
func (srv *loopServer) stats() *connStats { return &srv.st }

// shutdown stops accepting, closes idle connections, lets requests in flight finish for
// grace (their answers say Connection: close), then closes every connection and waits for
// the answers being made off the loops (goroutines, checkouts waiting for their commit).
func (srv *loopServer) shutdown(grace time.Duration) error {
	srv.once.Do(func() {
		close(srv.quit)
		by := time.Now().Add(grace)
		force := time.AfterFunc(grace, func() { close(srv.force) })
		for _, l := range srv.loops {
			l.mu.Lock()
			l.stopBy = by
			l.mu.Unlock()
			l.stop.Store(true)
			l.Wake()
		}
		srv.loopWG.Wait()
		if force.Stop() {
			close(srv.force)
		}
		srv.jobs.Wait()
		for _, l := range srv.loops {
			l.Close()
		}
		unix.Close(srv.lnfd)
	})
	return nil
}

// evLoop is one event loop: its epoll instance, its connections (by descriptor) and the
// buffers it lends to one connection at a time.
type evLoop struct {
	srv        *loopServer
	*epoll.Set           // its epoll instance, woken by post
	conns      []*evConn // by file descriptor
	live       int       // connections open on this loop
	now        time.Time

	rbuf []byte // shared read buffer: a request read whole in one read is answered from here
	out  []byte // answers to the connection being served, written in one write
	hdr  []byte // scratch for an answer's header
	ctx  fasthttp.RequestCtx
	rd   bytes.Reader
	br   *bufio.Reader

	lnOn     bool          // the listener is in the epoll set
	resumeAt time.Time     // while !lnOn: when to accept again
	backoff  time.Duration // current accept backoff
	stopping bool
	nextTick time.Time

	mu     sync.Mutex
	mail   []*loopJob
	spare  []*loopJob
	stopBy time.Time   // set by shutdown: close every connection by then
	stop   atomic.Bool // stopBy is set
}

func newEvLoop(srv *loopServer) (*evLoop, error) {
	set, err := epoll.New(256, tagWake)
	if err != nil {
		return nil, err
	}
	l := &evLoop{srv: srv, Set: set, rbuf: make([]byte, loopReadBuf)}
	l.br = bufio.NewReaderSize(&l.rd, readBufferSize+4096)
	if err := l.listen(true); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// listen adds the listener to (on) or removes it from (!on) the loop's epoll set. Every
// loop accepts; EPOLLEXCLUSIVE wakes one of them per new connection.
func (l *evLoop) listen(on bool) error {
	if on == l.lnOn {
		return nil
	}
	if !on {
		l.lnOn = false
		if err := unix.EpollCtl(l.FD, unix.EPOLL_CTL_DEL, l.srv.lnfd, nil); err != nil {
			return fmt.Errorf("epoll_ctl del listener: %w", err)
		}
		return nil
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.srv.lnfd), Pad: tagListener}
	if err := unix.EpollCtl(l.FD, unix.EPOLL_CTL_ADD, l.srv.lnfd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add listener: %w", err)
	}
	l.lnOn = true
	return nil
}

// post hands a finished answer to the loop.
func (l *evLoop) post(j *loopJob) {
	l.mu.Lock()
	l.mail = append(l.mail, j)
	first := len(l.mail) == 1
	l.mu.Unlock()
	if first {
		l.Wake()
	}
}

// run is the loop's goroutine.
func (l *evLoop) run() {
	defer l.srv.loopWG.Done()
	l.now = time.Now()
	l.nextTick = l.now.Add(loopTick)
	for {
		wait := l.nextTick.Sub(l.now)
		if !l.lnOn && !l.stopping && l.resumeAt.Sub(l.now) < wait {
			wait = l.resumeAt.Sub(l.now)
		}
		n, err := l.Wait(max(wait, 0))
		if err != nil {
			l.srv.logf("event loop: %v", err)
		}
		l.now = time.Now()
		// New connections first: during a connect storm the accept queue must not
		// fill while the loop answers requests (a full queue drops SYNs, and a dial
		// waits a second or more for its retry).
		for i := 0; i < n; i++ {
			if l.Events[i].Pad == tagListener {
				l.accept()
			}
		}
		for i := 0; i < n; i++ {
			ev := &l.Events[i]
			switch ev.Pad {
			case tagWake:
				l.Drain()
			case tagListener:
			default:
				l.event(int(ev.Fd), ev.Events)
			}
		}
		l.deliver()
		if !l.stopping && l.stop.Load() {
			l.nextTick = l.now
		}
		if !l.now.Before(l.nextTick) || (!l.lnOn && !l.now.Before(l.resumeAt)) {
			l.tick()
		}
		if l.stopping && l.live == 0 {
			return
		}
	}
}

// tick does the loop's periodic work: shutdown, the accept backoff, idle timeouts.
func (l *evLoop) tick() {
	l.mu.Lock()
	stopBy := l.stopBy
	l.mu.Unlock()
	if !stopBy.IsZero() {
		if !l.stopping {
			l.stopping = true
			if l.lnOn {
				_ = l.listen(false)
			}
		}
		force := !l.now.Before(stopBy)
		for _, c := range l.conns {
			if c != nil && (force || c.idle()) {
				l.close(c)
			}
		}
		l.nextTick = l.now.Add(10 * time.Millisecond)
		return
	}
	if !l.lnOn && !l.now.Before(l.resumeAt) {
		if err := l.listen(true); err != nil {
			l.srv.logf("event loop: %v", err)
			l.resumeAt = l.now.Add(maxAcceptBackoff)
		}
	}
	if !l.now.Before(l.nextTick) {
		old := l.now.Add(-idleTimeout)
		for _, c := range l.conns {
			if c != nil && !c.busy && c.last.Before(old) {
				l.close(c)
			}
		}
		l.nextTick = l.now.Add(loopTick)
	}
}

// accept takes the connections waiting on the listener.
func (l *evLoop) accept() {
	for range maxAcceptsBatch {
		fd, err := sock.Accept(l.srv.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if err == unix.EAGAIN {
				return
			}
			if err == unix.ECONNABORTED {
				continue
			}
			l.acceptFailed(err)
			return
		}
		l.backoff = 0
		if l.srv.maxConns > 0 && l.srv.st.open.Load() >= l.srv.maxConns {
			l.srv.st.refused.Add(1)
			refuseFD(fd)
			continue
		}
		if err := l.add(fd); err != nil {
			unix.Close(fd)
			l.srv.logf("event loop: %v", err)
		}
	}
}

// acceptFailed waits out an accept error: out of descriptors (or memory) now need not
// mean later, so the loop stops accepting for a backoff that doubles up to a second,
// keeping the connections it has, as resilientListener does for fasthttp.
func (l *evLoop) acceptFailed(err error) {
	l.backoff = min(max(2*l.backoff, minAcceptBackoff), maxAcceptBackoff)
	n := l.srv.st.retries.Add(1)
	if n == 1 || n%1000 == 0 {
		l.srv.logf("accept failed (%v, %d times so far); keeping the open connections and retrying in %v", err, n, l.backoff)
	}
	if !retryableAcceptError(err) {
		l.backoff = maxAcceptBackoff
	}
	if e := l.listen(false); e != nil {
		l.srv.logf("event loop: %v", e)
	}
	l.resumeAt = l.now.Add(l.backoff)
}

// refuseFD answers a connection over the cap with a 503 on its own goroutine (see refuse).
func refuseFD(fd int) {
	f := os.NewFile(uintptr(fd), "refused")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err == nil {
		go refuse(c)
	}
}

// add registers an accepted connection with the loop.
func (l *evLoop) add(fd int) error {
	c := &evConn{fd: fd, last: l.now}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(l.FD, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add connection: %w", err)
	}
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*evConn, fd+1-len(l.conns)+len(l.conns)/4)...)
	}
	l.conns[fd] = c
	l.live++
	l.srv.st.open.Add(1)
	return nil
}

// close closes c's socket (which leaves the epoll set with it).
func (l *evLoop) close(c *evConn) {
	if c.fd < 0 {
		return
	}
	l.conns[c.fd] = nil
	unix.Close(c.fd)
	c.fd = -1
	c.in, c.pending = nil, nil
	l.live--
	l.srv.st.open.Add(-1)
}
