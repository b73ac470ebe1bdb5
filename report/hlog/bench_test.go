package hlog

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// benchRecorder returns an empty recorder of 7 steps × 4 regions (the
// agent-storm profile's shape).
func benchRecorder() *report.Recorder {
	steps := []string{"open_cart", "add_to_cart", "remove_item", "inventory", "shipping_quote", "checkout", "order_status"}
	regions := []string{"us-east", "us-west", "eu-west", "ap-tokyo"}
	start := time.UnixMilli(1_700_000_000_000)
	return report.NewRecorder(report.Options{Steps: steps, Regions: regions, Model: report.ModelOpen, Start: start})
}

// benchInterval returns a benchRecorder and its first interval, one second
// with ~25,000 answers spread over every step × region.
func benchInterval() (*report.Recorder, *report.Interval) {
	r := benchRecorder()
	for i := 0; i < 25_000; i++ {
		r.Record(i, i%7, (i/7)%4, time.Duration(500+(i*7919)%150_000)*time.Microsecond, report.OK, 0)
	}
	return r, r.Rotate(r.Start().Add(time.Second))
}

// BenchmarkWriterInterval is the cost of streaming one second of a
// 7 × 4 storm (~25,000 answers) to an hlog.
func BenchmarkWriterInterval(b *testing.B) {
	r, iv := benchInterval()
	var buf bytes.Buffer
	lw, err := NewWriter(&buf, MetaOf(r, nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	head := buf.Len()
	if err := lw.WriteInterval(iv); err != nil {
		b.Fatal(err)
	}
	size := buf.Len() - head
	lw, _ = NewWriter(io.Discard, MetaOf(r, nil, nil))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := lw.WriteInterval(iv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes/interval")
}

// BenchmarkDecoderMerge is Merge's cost per second of a log: decode
// one interval of a 7 × 4 storm and merge it into a recorder.
func BenchmarkDecoderMerge(b *testing.B) {
	r, iv := benchInterval()
	var one bytes.Buffer
	lw, _ := NewWriter(&one, MetaOf(r, nil, nil))
	head := one.Len()
	_ = lw.WriteInterval(iv)
	header, body := one.Bytes()[:head], one.Bytes()[head:]
	stream := append(append([]byte(nil), header...), bytes.Repeat(body, b.N)...)
	co := benchRecorder()
	d := NewStrictDecoder(bytes.NewReader(stream), "bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		co.MergeInterval(x.Interval)
		if i%8 == 7 {
			co.Release(co.Rotate(time.Now()))
		}
	}
}

// BenchmarkSetSummary re-reads a 70-second log of the default storm's shape
// (25,000 answers a second, a tenth with a corrected figure) into a summary
// with its series: what `agentstorm report` does.
func BenchmarkSetSummary(b *testing.B) {
	rec := benchRecorder()
	var buf bytes.Buffer
	lw, err := NewWriter(&buf, MetaOf(rec, nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	for sec := 0; sec < 70; sec++ {
		for i := 0; i < 25_000; i++ {
			var ei time.Duration
			if i%10 == 0 {
				ei = 20 * time.Millisecond
			}
			rec.Record(i, i%7, i%4, time.Duration(500+(i*7919)%90000)*time.Microsecond, report.OK, ei)
		}
		iv := rec.Rotate(rec.Start().Add(time.Duration(sec+1) * time.Second))
		if err := lw.WriteInterval(iv); err != nil {
			b.Fatal(err)
		}
		rec.Release(iv)
	}
	if err := lw.Close(rec.Summary(70 * time.Second)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ls := NewSet()
		if err := ls.Read("bench.hlog", bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		if _, err := ls.Summary(); err != nil {
			b.Fatal(err)
		}
	}
}
