package k6

import (
	"strings"
	"testing"
	"time"
)

// TestParseRFC3339 checks the allocation-free parser against time.Parse,
// for k6's layouts and the ones that fall back to it.
func TestParseRFC3339(t *testing.T) {
	for _, s := range []string{
		"2026-11-26T17:42:45.239531499+02:00",
		"2026-11-26T17:42:45Z",
		"2026-11-26T17:42:45.5-05:30",
		"2024-02-29T23:59:59.999999999Z",
		"2000-03-01T00:00:00+14:00",
		"1969-12-31T23:59:59.25Z",
		"1900-01-01T00:00:00-12:00",
		"2026-11-26t17:42:45z",   // RFC 3339 allows lower case
		"2026-11-26 17:42:45.1Z", // and a space for the T
	} {
		want, err := time.Parse(time.RFC3339Nano, strings.ToUpper(strings.Replace(s, " ", "T", 1)))
		if err != nil {
			t.Fatalf("%s: time.Parse: %v", s, err)
		}
		got, ok := parseRFC3339([]byte(s))
		if !ok || got != want.UnixNano() {
			t.Errorf("%s: %d %v, want %d", s, got, ok, want.UnixNano())
		}
	}
	for _, s := range []string{"", "2026-11-26", "2026-13-26T17:42:45Z", "2026-11-26T17:42:45", "2026-11-26T17:42:45.Z", "yesterday at noon!!"} {
		if n, ok := parseRFC3339([]byte(s)); ok {
			t.Errorf("%q: accepted as %d", s, n)
		}
	}
	b := []byte("2026-11-26T17:42:45.239531499+02:00")
	if a := testing.AllocsPerRun(100, func() { parseRFC3339(b) }); a != 0 {
		t.Errorf("parseRFC3339 allocates %v times", a)
	}
}
