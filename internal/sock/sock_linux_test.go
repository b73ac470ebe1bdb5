package sock

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAddrRoundTrip: an address converted to a socket address and back is
// the same; an address of the wrong family is refused.
func TestAddrRoundTrip(t *testing.T) {
	for _, c := range []struct {
		family int
		ip     string
	}{{unix.AF_INET, "127.0.0.2"}, {unix.AF_INET6, "::1"}} {
		sa, err := Addr(c.family, net.ParseIP(c.ip), 8080)
		if err != nil {
			t.Fatalf("Addr(%s): %v", c.ip, err)
		}
		if got := TCPAddr(sa); got == nil || !got.IP.Equal(net.ParseIP(c.ip)) || got.Port != 8080 {
			t.Errorf("%s:8080 came back as %v", c.ip, got)
		}
	}
	if _, err := Addr(unix.AF_INET, net.ParseIP("::1"), 1); err == nil {
		t.Error("an IPv6 address as IPv4: no error")
	}
	if _, err := Addr(unix.AF_INET6, net.ParseIP("127.0.0.1"), 1); err == nil {
		t.Error("an IPv4 address as IPv6: no error")
	}
}

// TestReadWrite: bytes written to one end of a socket pair are read at
// the other.
func TestReadWrite(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if n, err := Write(fds[0], []byte("ping")); n != 4 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 8)
	if n, err := Read(fds[1], buf); n != 4 || err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
}

// TestReadWouldBlock: a read on an empty non-blocking socket says EAGAIN,
// as the loops expect, and allocates nothing to say it.
func TestReadWouldBlock(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	buf := make([]byte, 8)
	if n, err := Read(fds[1], buf); n != -1 || err != unix.EAGAIN {
		t.Fatalf("read of an empty socket: %d, %v; want -1, EAGAIN", n, err)
	}
	if n, err := Read(fds[1], nil); n != 0 || err != nil {
		t.Fatalf("read into an empty buffer: %d, %v; want 0, nil", n, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = Read(fds[1], buf) }); allocs != 0 {
		t.Fatalf("a read that would block allocates %v times", allocs)
	}
	if err := unix.Close(fds[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(fds[1], []byte("x")); err != unix.EPIPE {
		t.Fatalf("write to a closed peer: %v, want EPIPE", err)
	}
}

// BenchmarkLoopbackRoundTrip measures one request's system calls on both
// sides (client writes, server reads and answers, client reads) over 2,000
// loopback TCP connections taken in a scattered order, so each call finds
// its socket out of the caches as in a storm; once with read and write,
// once with recvfrom and sendto (what Read and Write use).
func BenchmarkLoopbackRoundTrip(b *testing.B) {
	const pairs = 2000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var client, server []int
	for range pairs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		client = append(client, rawFD(b, c))
		server = append(server, rawFD(b, s))
	}
	req := make([]byte, 300)
	buf := make([]byte, 4096)
	for _, c := range []struct {
		name        string
		read, write uintptr
		flags       int
	}{
		{"read-write", unix.SYS_READ, unix.SYS_WRITE, 0},
		{"recvfrom-sendto", unix.SYS_RECVFROM, unix.SYS_SENDTO, unix.MSG_NOSIGNAL},
	} {
		b.Run(c.name, func(b *testing.B) {
			// exchange moves req from one socket to another; loopback
			// delivers within the write, so the read finds the bytes at
			// once, but a bounded retry covers a deferred delivery.
			exchange := func(from, to int) {
				if _, err := rawIO(c.write, from, req, c.flags); err != nil {
					b.Fatal(err)
				}
				for try := 0; ; try++ {
					_, err := rawIO(c.read, to, buf, 0)
					if err == nil {
						return
					}
					if err != unix.EAGAIN || try == 1e6 {
						b.Fatal(err)
					}
				}
			}
			for i := range b.N {
				j := i * 7919 % pairs
				exchange(client[j], server[j])
				exchange(server[j], client[j])
			}
		})
	}
}

// rawFD returns c's descriptor (still owned by c, already non-blocking).
func rawFD(b *testing.B, c net.Conn) int {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var fd int
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		b.Fatal(err)
	}
	return fd
}

// TestAccept: Accept says EAGAIN while nothing waits on a non-blocking
// listener, then returns a non-blocking, close-on-exec socket connected to
// the dialer.
func TestAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File() // a blocking duplicate: make it non-blocking
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lnfd := int(f.Fd())
	if err := unix.SetNonblock(lnfd, true); err != nil {
		t.Fatal(err)
	}
	if fd, err := Accept(lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC); fd != -1 || err != unix.EAGAIN {
		t.Fatalf("accept with nothing waiting: %d, %v; want -1, EAGAIN", fd, err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fd int
	for i := 0; ; i++ {
		if fd, err = Accept(lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC); err != unix.EAGAIN || i == 5000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer unix.Close(fd)
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("accepted socket: flags %#x, %v; want O_NONBLOCK", fl, err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Errorf("accepted socket: descriptor flags %#x, %v; want FD_CLOEXEC", fl, err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	n := -1
	for i := 0; i < 5000 && n < 0; i++ {
		if n, err = Read(fd, buf); err == unix.EAGAIN {
			time.Sleep(time.Millisecond)
		}
	}
	if string(buf[:max(n, 0)]) != "ping" {
		t.Fatalf("read from the accepted socket: %q, %v", buf[:max(n, 0)], err)
	}
}

// TestConnect: a non-blocking Connect to a listener completes (the socket
// turns writable with no error and the listener has the connection, from
// the socket's own address); one to a closed port is refused.
func TestConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func(port int) (int, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		sa, err := Addr(unix.AF_INET, net.IPv4(127, 0, 0, 1), port)
		if err != nil {
			t.Fatal(err)
		}
		if err := Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
			return fd, err
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil {
			t.Fatalf("poll: %d, %v", n, err)
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			return fd, unix.Errno(v)
		}
		return fd, nil
	}
	fd, err := dial(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatalf("connect to a listener: %v", err)
	}
	defer unix.Close(fd)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	if got := TCPAddr(local); got == nil || got.String() != c.RemoteAddr().String() {
		t.Fatalf("the listener accepted %v, the socket is %v", c.RemoteAddr(), got)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	fd2, err := dial(port)
	defer unix.Close(fd2)
	if err != unix.ECONNREFUSED {
		t.Fatalf("connect to a closed port: %v, want ECONNREFUSED", err)
	}
}
