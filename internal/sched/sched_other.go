//go:build !linux

package sched

// Batch does nothing off Linux: the scheduling policy it sets is Linux's.
func Batch() error { return nil }
