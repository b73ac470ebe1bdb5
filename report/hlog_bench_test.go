package report

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// benchRecorder returns an empty recorder of 7 steps × 4 regions (the
// agent-storm profile's shape).
func benchRecorder() *Recorder {
	steps := []string{"open_cart", "add_to_cart", "remove_item", "inventory", "shipping_quote", "checkout", "order_status"}
	regions := []string{"us-east", "us-west", "eu-west", "ap-tokyo"}
	start := time.UnixMilli(1_700_000_000_000)
	return NewRecorder(Options{Steps: steps, Regions: regions, Model: ModelOpen, Start: start})
}

// benchInterval returns a benchRecorder and its first interval, one second
// with ~25,000 answers spread over every step × region.
func benchInterval() (*Recorder, *Interval) {
	r := benchRecorder()
	for i := 0; i < 25_000; i++ {
		r.Record(i, i%7, (i/7)%4, time.Duration(500+(i*7919)%150_000)*time.Microsecond, OK, 0)
	}
	return r, r.Rotate(r.Start().Add(time.Second))
}

// BenchmarkLogWriterInterval is the cost of streaming one second of a
// 7 × 4 storm (~25,000 answers) to an hlog.
func BenchmarkLogWriterInterval(b *testing.B) {
	r, iv := benchInterval()
	var buf bytes.Buffer
	lw, err := NewLogWriter(&buf, MetaOf(r, nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	head := buf.Len()
	if err := lw.WriteInterval(iv); err != nil {
		b.Fatal(err)
	}
	size := buf.Len() - head
	lw, _ = NewLogWriter(io.Discard, MetaOf(r, nil, nil))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := lw.WriteInterval(iv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes/interval")
}

// BenchmarkLogDecoderMerge is MergeLogs' cost per second of a log: decode
// one interval of a 7 × 4 storm and merge it into a recorder.
func BenchmarkLogDecoderMerge(b *testing.B) {
	r, iv := benchInterval()
	var one bytes.Buffer
	lw, _ := NewLogWriter(&one, MetaOf(r, nil, nil))
	head := one.Len()
	_ = lw.WriteInterval(iv)
	header, body := one.Bytes()[:head], one.Bytes()[head:]
	stream := append(append([]byte(nil), header...), bytes.Repeat(body, b.N)...)
	co := benchRecorder()
	d := NewLogDecoder(bytes.NewReader(stream), "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		co.MergeInterval(x)
		if i%8 == 7 {
			co.Release(co.Rotate(time.Now()))
		}
	}
}

// BenchmarkLiveCheck is the per-second cost of three abort budgets.
func BenchmarkLiveCheck(b *testing.B) {
	r, iv := benchInterval()
	o := BudgetOptions{Steps: r.Steps(), Regions: r.Regions()}
	var bs []*Budget
	for _, e := range []string{"add_to_cart p99 < 1s abort", "region=ap-tokyo p99 < 1s abort", "errors < 1% abort"} {
		bu, err := ParseBudget(e, o)
		if err != nil {
			b.Fatal(err)
		}
		bs = append(bs, bu)
	}
	lc := NewLiveChecker(bs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f := lc.Check(iv, time.Minute); f != nil {
			b.Fatal(f)
		}
	}
}
