package k6

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
)

// FuzzParseLine feeds arbitrary lines to the JSON and CSV parsers and the
// whole ingest: no panic, and a line encoding/json accepts as a k6 point
// gives the same metric and value.
func FuzzParseLine(f *testing.F) {
	data, err := os.ReadFile("testdata/results.json")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
	f.Add([]byte(`{"type":"Point","metric":"a\u00e9\ud83d\ude00","data":{"value":-1.5e3,"time":"2026-11-26T17:00:00Z","tags":{"name":"x\\\"y"}}}`))
	f.Add([]byte(`http_req_duration,1795708800,"1,5",x`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var p jsonParser
		p.keys[tagStep] = []byte("name")
		rec, perr := p.parse(line)
		var ref struct {
			Type   string `json:"type"`
			Metric string `json:"metric"`
			Data   struct {
				Value *float64 `json:"value"`
			} `json:"data"`
		}
		if json.Unmarshal(line, &ref) == nil && ref.Data.Value != nil && json.Valid(line) && bytes.IndexByte(bytes.TrimSpace(line), '{') == 0 {
			if perr != nil {
				t.Fatalf("encoding/json accepts %q, the parser says %v", line, perr)
			}
			if string(rec.metric) != ref.Metric || rec.value != *ref.Data.Value {
				t.Fatalf("%q: metric %q value %v, encoding/json %q %v", line, rec.metric, rec.value, ref.Metric, *ref.Data.Value)
			}
		}
		var cp csvParser
		cp.keys[tagStep] = []byte("name")
		_ = cp.header([]byte("metric_name,timestamp,metric_value,name,extra_tags"))
		_, _ = cp.parse(line)
		in := New(Options{})
		_ = in.Read(context.Background(), bytes.NewReader(append(append([]byte(nil), data...), line...)), "fuzz")
		in.Finish()
	})
}
