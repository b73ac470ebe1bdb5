package k6

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// jsonPoint is one http_req_duration point line as k6 --out json writes it.
func jsonPoint(at time.Time, ms float64) string {
	return fmt.Sprintf(`{"metric":"http_req_duration","type":"Point","data":{"time":%q,"value":%g,"tags":{"name":"add_to_cart","method":"POST","status":"200","expected_response":"true"}}}`+"\n",
		at.Format(time.RFC3339Nano), ms)
}

// csvPoint is the same point as k6 --out csv writes it.
func csvPoint(at time.Time, ms float64) string {
	return fmt.Sprintf("http_req_duration,%d,%f,,,,true,,POST,add_to_cart,HTTP/1.1,default,,200,,,http://127.0.0.1/cart,,\n", at.Unix(), ms)
}

const csvHeader = "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n"

// TestBrokenTimeLineRefused: a first point dated years before (or after)
// the rest must not leave one point to be judged with the rest skipped;
// nor may input whose every point has an unreadable time pass as a run.
// A single stray point in a long run is skipped and the run judged.
func TestBrokenTimeLineRefused(t *testing.T) {
	run := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	points := func(format string, first time.Time, stray int) []byte {
		var b strings.Builder
		line := jsonPoint
		if format == "csv" {
			b.WriteString(csvHeader)
			line = csvPoint
		}
		if !first.IsZero() {
			b.WriteString(line(first, 5))
		}
		for i := 0; i < 3000; i++ {
			at := run.Add(time.Duration(i) * 10 * time.Millisecond)
			if i == stray {
				at = at.AddDate(3, 0, 0)
			}
			b.WriteString(line(at, 5))
		}
		return []byte(b.String())
	}
	for _, c := range []struct {
		name    string
		data    []byte
		strict  bool
		refused string // "" means judged
		want    int64  // requests recorded
	}{
		{"stale first point, json", points("json", run.AddDate(-3, 0, 0), -1), false, "time line is broken", 1},
		{"stale first point, json, strict", points("json", run.AddDate(-3, 0, 0), -1), true, "time line is broken", 1},
		{"stale first point, csv", points("csv", run.AddDate(-3, 0, 0), -1), false, "time line is broken", 1},
		{"first point years later", points("json", run.AddDate(3, 0, 0), -1), false, "time line is broken", 1},
		{"one stray point mid-run", points("json", time.Time{}, 1500), false, "", 2999},
		{"every time unreadable", []byte(strings.Repeat(`{"metric":"http_req_duration","type":"Point","data":{"time":"yesterday","value":5,"tags":{"name":"a"}}}`+"\n", 50)), false, "no request was recorded", 0},
		{"no time at all", []byte(strings.Repeat(`{"metric":"http_req_duration","type":"Point","data":{"value":5,"tags":{"name":"a"}}}`+"\n", 50)), false, "no request was recorded", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := New(Options{Strict: c.strict})
			if err := in.Read(t.Context(), io.Reader(bytes.NewReader(c.data)), "input"); err != nil {
				t.Fatalf("Read: %v", err)
			}
			s := in.Finish()
			st := in.Stats()
			if st.Requests != c.want || s.Overall.Count != c.want {
				t.Errorf("requests: stats %d, summary %d; want %d", st.Requests, s.Overall.Count, c.want)
			}
			err := in.Refusal()
			switch {
			case c.refused == "" && err != nil:
				t.Errorf("refused a judgeable run: %v", err)
			case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
				t.Errorf("Refusal() = %v, want it to say %q", err, c.refused)
			}
		})
	}
}
