package agents

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketControl returns a net.Dialer Control function that sets linger 0
// (close sends RST and leaves no TIME_WAIT) and, when the dialer binds a
// source address, IP_BIND_ADDRESS_NO_PORT so the bind reserves no port: the
// port is picked at connect time for the full 4-tuple, so a source address is
// not capped at the ephemeral range across all destinations. Control runs
// before the bind.
func socketControl(bindsSource bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			if serr != nil {
				serr = fmt.Errorf("set SO_LINGER: %w", serr)
				return
			}
			if bindsSource {
				if e := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); e != nil {
					serr = fmt.Errorf("set IP_BIND_ADDRESS_NO_PORT: %w", e)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("socket control: %w", err)
		}
		return serr
	}
}
