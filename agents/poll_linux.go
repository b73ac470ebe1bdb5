package agents

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/internal/epoll"
	"github.com/agentstorm/agentstorm/internal/sock"
)

// hasPoller reports whether plain-HTTP connections run on the event loops'
// own epoll poller (Linux); elsewhere every call goes through the goroutine
// transport.
const hasPoller = true

// poller is one event loop's epoll instance and the eventfd that wakes it.
type poller struct{ *epoll.Set }

// Events of a socket: edge-triggered, so an idle connection costs nothing
// until its server writes or closes.
const sockEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// wakeTag tags the eventfd's events (a socket's tag is its seq, >= 0).
const wakeTag = -1

func newPoller() (*poller, error) {
	s, err := epoll.New(512, wakeTag)
	if err != nil {
		return nil, err
	}
	return &poller{s}, nil
}

// close releases the poller's descriptors.
func (p *poller) close() { p.Close() }

// wake makes a wait in progress (or the next one) return. Safe from any
// goroutine.
func (p *poller) wake() { p.Wake() }

// wait blocks up to timeout (negative: until an event) and calls fn for
// every socket event; it reports whether the eventfd was signalled.
func (p *poller) wait(timeout time.Duration, fn func(fd int, seq uint32, ev uint32)) (woken bool) {
	n, err := p.Wait(timeout)
	if err != nil {
		return false
	}
	for i := range n {
		ev := &p.Events[i]
		if ev.Pad == wakeTag {
			p.Drain()
			woken = true
			continue
		}
		fn(int(ev.Fd), uint32(ev.Pad), ev.Events)
	}
	return woken
}

// openSocket makes the non-blocking socket of a connect to dst, with linger 0,
// TCP_NODELAY and, when src is given (nil: the kernel picks), bound to src
// with IP_BIND_ADDRESS_NO_PORT as the goroutine dialer binds, so that the
// port is picked at connect time. A storm's agents get theirs before it
// starts (see Swarm.prefill).
func openSocket(src net.IP, dst *net.TCPAddr) (int, error) {
	family := addrFamily(dst.IP)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := setUpSocket(fd, family, src, dst); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// addrFamily returns the socket address family of ip.
func addrFamily(ip net.IP) int {
	if ip.To4() == nil {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// setUpSocket sets openSocket's options on fd and binds it to src, if given.
func setUpSocket(fd, family int, src net.IP, dst *net.TCPAddr) error {
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return fmt.Errorf("set SO_LINGER: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fmt.Errorf("set TCP_NODELAY: %w", err)
	}
	if src == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
		return fmt.Errorf("set IP_BIND_ADDRESS_NO_PORT: %w", err)
	}
	sa, err := sock.Addr(family, src, 0)
	if err != nil {
		return fmt.Errorf("source address for %s: %w", dst, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return nil
}

// connect registers fd, a socket from openSocket, with seq as its tag and
// starts its non-blocking connect to dst.
func (p *poller) connect(fd int, dst *net.TCPAddr, seq uint32) error {
	ev := unix.EpollEvent{Events: sockEvents, Fd: int32(fd), Pad: int32(seq & 0x7fffffff)}
	if err := unix.EpollCtl(p.FD, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	sa, err := sock.Addr(addrFamily(dst.IP), dst.IP, dst.Port)
	if err != nil {
		return fmt.Errorf("dial %s: %w", dst, err)
	}
	if err := sock.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		return fmt.Errorf("dial %s: %w", dst, err)
	}
	return nil
}

// connectResult reads the outcome of a non-blocking connect once the socket
// is writable (nil: connected).
func connectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("getsockopt SO_ERROR: %w", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// Event bits, for the loop.
const (
	evIn  = unix.EPOLLIN
	evOut = unix.EPOLLOUT
	evErr = unix.EPOLLERR | unix.EPOLLHUP | unix.EPOLLRDHUP
)

// sysRead and sysWrite are the non-blocking socket calls (EAGAIN: nothing now).
func sysRead(fd int, p []byte) (int, error)  { return sock.Read(fd, p) }
func sysWrite(fd int, p []byte) (int, error) { return sock.Write(fd, p) }

// isAgain reports whether err says a non-blocking call would block.
func isAgain(err error) bool { return err == unix.EAGAIN }

// sysClose closes a socket (linger 0: no TIME_WAIT); closing also removes
// it from the epoll set.
func sysClose(fd int) { _ = unix.Close(fd) }
