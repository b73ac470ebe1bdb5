package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value in bytes, written as a number with an optional
// KiB, MiB or GiB suffix ("8MiB", "65536").
type byteSize int

func (b *byteSize) String() string {
	if *b == 0 {
		return ""
	}
	return strconv.Itoa(int(*b))
}

// Type names the value in --help.
func (b *byteSize) Type() string { return "size" }

// Set parses v.
func (b *byteSize) Set(v string) error {
	num, mult := strings.TrimSpace(v), 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > (1<<31-1)/mult {
		return fmt.Errorf("%q is not a size: want a positive number of bytes, with KiB, MiB or GiB, such as 32MiB", v)
	}
	*b = byteSize(n * mult)
	return nil
}
