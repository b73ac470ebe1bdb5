package main

import "golang.org/x/sys/unix"

// threadPolicy returns the scheduling policy of the calling thread.
func threadPolicy() (uint32, error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, err
	}
	return attr.Policy, nil
}
