// Package sock holds the raw socket helpers that the agents' event loops
// and the bundled target's server loops share: reads and writes that retry
// an interrupted system call, and conversions between net and unix socket
// addresses.
package sock

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Read reads from fd, retrying when a signal interrupts the call.
func Read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Write writes to fd, retrying when a signal interrupts the call.
func Write(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Write(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
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
