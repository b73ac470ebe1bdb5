//go:build !linux

package main

import "errors"

// threadPolicy: scheduling policies are Linux's.
func threadPolicy() (uint32, error) { return 0, errors.New("no scheduling policy off Linux") }
