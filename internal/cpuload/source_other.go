//go:build !linux

package cpuload

import "errors"

// source is not available off Linux: Start fails and the run says nothing
// of the machine's load.
type source struct{}

func newSource(int, func([]string) string) (source, error) {
	return source{}, errors.New("CPU load: only read on Linux")
}

func (source) cpus() int               { return 0 }
func (source) ticksPerSecond() float64 { return 1 }
func (source) read() (reading, error)  { return reading{}, errors.New("CPU load: only read on Linux") }
