// Package sock holds the raw socket helpers that the agents' event loops
// and the bundled target's server loops share: reads and writes that retry
// an interrupted system call, and conversions between net and unix socket
// addresses.
package sock

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads from the non-blocking socket fd, retrying when a signal
// interrupts the call.
//
// Read and Write are raw system calls: they do not tell the Go scheduler
// they are in the kernel. On a non-blocking socket the call never sleeps.
// An event loop spends most of its time in these calls, and when the machine
// is so busy that the kernel deschedules it mid-call, the runtime's monitor
// would hand its P to another thread and poll every 20µs after: in the
// saturated default storm (uprobes on the runtime, 10 s of the hold), the
// generator's processes went from 159 hand-offs and 2,779 monitor rounds a
// second to 2 and 358. Never use them on a blocking descriptor.
//
// They are recvfrom and sendto rather than read and write, which pass
// through the file layer first: a loopback round trip over 2,000 cold
// connections costs ~4% less (BenchmarkLoopbackRoundTrip).
//
// A read into an empty p returns 0 at once, as read(2) does on a socket
// (recvfrom would say EAGAIN when no bytes wait).
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return rawIO(unix.SYS_RECVFROM, fd, p, 0)
}

// Write writes to the non-blocking socket fd, retrying when a signal
// interrupts the call. A peer that has closed gives EPIPE and no SIGPIPE.
// See Read for why it is a raw system call.
func Write(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_SENDTO, fd, p, unix.MSG_NOSIGNAL)
}

// rawIO runs trap (read, write, recvfrom, sendto or accept4) on fd and p;
// flags is the last three's flags argument (the others ignore it).
func rawIO(trap uintptr, fd int, p []byte, flags int) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags), 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		// An Errno below 256 converts to an error without allocating.
		return -1, errno
	}
}

// Accept takes a connection waiting on the non-blocking listener lnfd
// (accept4 with flags), retrying when a signal interrupts the call. It does
// not ask for the peer's address: x/sys/unix's Accept4 converts that address
// with one more system call (getsockopt SO_PROTOCOL) per connection. A raw
// system call, as Read: accept4(lnfd, NULL, NULL, flags) is rawIO's call
// with no buffer.
func Accept(lnfd, flags int) (int, error) {
	return rawIO(unix.SYS_ACCEPT4, lnfd, nil, flags)
}

// Connect starts connecting the non-blocking socket fd to sa (IPv4 or
// IPv6): nil or EINPROGRESS while the handshake goes on, as connect(2). On
// loopback the call runs the whole handshake (both ends' TCP work) inside
// it, longer than the Go scheduler's monitor waits before handing the P of
// a thread it knows to be in a system call to another thread; so, as Read,
// it is a raw system call. An interrupted call goes on in the kernel: it
// says EINPROGRESS.
func Connect(fd int, sa unix.Sockaddr) error {
	var errno unix.Errno
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		raw := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Addr}
		putPort(&raw.Port, a.Port)
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&raw)), unsafe.Sizeof(raw))
	case *unix.SockaddrInet6:
		raw := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr, Scope_id: a.ZoneId}
		putPort(&raw.Port, a.Port)
		_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&raw)), unsafe.Sizeof(raw))
	default:
		return unix.EAFNOSUPPORT
	}
	switch errno {
	case 0:
		return nil
	case unix.EINTR:
		return unix.EINPROGRESS
	}
	return errno
}

// putPort stores port in network byte order.
func putPort(dst *uint16, port int) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(port>>8), byte(port)
}

// Addr converts ip:port to the socket address of family (unix.AF_INET or
// unix.AF_INET6); an address of the other family is an error.
func Addr(family int, ip net.IP, port int) (unix.Sockaddr, error) {
	if family == unix.AF_INET {
		ip4 := ip.To4()
		if ip4 == nil {
			return nil, fmt.Errorf("address %s is not IPv4", ip)
		}
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	ip16 := ip.To16()
	if ip16 == nil || ip.To4() != nil {
		return nil, fmt.Errorf("address %s is not IPv6", ip)
	}
	sa := &unix.SockaddrInet6{Port: port}
	copy(sa.Addr[:], ip16)
	return sa, nil
}

// TCPAddr converts a socket address to a *net.TCPAddr (nil for a family
// other than IPv4 and IPv6).
func TCPAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	}
	return nil
}
