package k6

import (
	"strconv"
	"time"
)

// parseRFC3339 returns the Unix time in nanoseconds of an RFC 3339 time
// such as "2026-11-26T17:42:45.239531499+02:00" or "…Z", without
// allocating. Other layouts time.Parse accepts as RFC 3339 go to it.
func parseRFC3339(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return slowRFC3339(b)
	}
	year, ok1 := digitsN(b[0:4])
	month, ok2 := digitsN(b[5:7])
	day, ok3 := digitsN(b[8:10])
	hour, ok4 := digitsN(b[11:13])
	minute, ok5 := digitsN(b[14:16])
	sec, ok6 := digitsN(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return slowRFC3339(b)
	}
	i := 19
	var nanos int64
	if i < len(b) && b[i] == '.' {
		i++
		scale := int64(100_000_000)
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nanos += int64(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return slowRFC3339(b)
		}
	}
	var off int64
	switch {
	case i == len(b)-1 && (b[i] == 'Z' || b[i] == 'z'):
	case i == len(b)-6 && (b[i] == '+' || b[i] == '-') && b[i+3] == ':':
		oh, ok1 := digitsN(b[i+1 : i+3])
		om, ok2 := digitsN(b[i+4 : i+6])
		if !ok1 || !ok2 {
			return slowRFC3339(b)
		}
		off = int64(oh*3600 + om*60)
		if b[i] == '-' {
			off = -off
		}
	default:
		return slowRFC3339(b)
	}
	// time.Date in UTC allocates nothing; only the offset is ours to apply.
	unix := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC).Unix() - off
	return unix*1e9 + nanos, true
}

func slowRFC3339(b []byte) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

func digitsN(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseCSVTime parses a k6 CSV timestamp: Unix seconds (k6's default
// timeFormat "unix"), milliseconds, microseconds or nanoseconds (told
// apart by magnitude), or RFC 3339 (timeFormat rfc3339, rfc3339_nano).
func parseCSVTime(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) >= 20 && b[4] == '-' {
		return parseRFC3339(b)
	}
	n, err := strconv.ParseInt(bytesString(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(bytesString(b), 64)
		if ferr != nil {
			return 0, false
		}
		return int64(f * 1e9), true
	}
	switch {
	case n < 1e11: // seconds (until the year 5138)
		return n * 1e9, true
	case n < 1e14:
		return n * 1e6, true
	case n < 1e17:
		return n * 1e3, true
	}
	return n, true
}
