package target

import (
	"net"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/sock"
	"golang.org/x/sys/unix"
)

// TestAcceptedSocketsHaveNoDelay checks that a connection accepted from
// listenTCP's socket has TCP_NODELAY, which the loops no longer set per
// connection: the kernel must copy it from the listener.
func TestAcceptedSocketsHaveNoDelay(t *testing.T) {
	lnfd, addr, err := listenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lnfd)
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fd int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		fd, err = sock.Accept(lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == nil {
			break
		}
		if err != unix.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("accept: %v", err)
		}
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if err != nil {
		t.Fatal(err)
	}
	if v == 0 {
		t.Fatal("an accepted connection has Nagle's algorithm on: answers written in parts would wait for acknowledgements")
	}
}
