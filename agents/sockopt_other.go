//go:build !linux

package agents

import "syscall"

// socketControl is a no-op outside Linux: connections close normally and
// source addresses are bound the ordinary way.
func socketControl(bindsSource bool) func(network, address string, c syscall.RawConn) error {
	return nil
}
