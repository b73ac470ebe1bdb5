//go:build !linux

package cpuload

import "errors"

// source is not available off Linux: Start fails and the run says why.
type source struct{}

func newSource(int, func([]string) string) (source, error) {
	return source{}, errors.New("CPU times are read from /proc, on Linux only")
}

func (source) cpus() int { return 0 }
func (source) read() (rawReading, error) {
	return rawReading{}, errors.New("CPU times are read from /proc, on Linux only")
}
