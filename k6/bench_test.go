package k6

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchPoints is the points per benchmark op.
const benchPoints = 200_000

func benchData(b *testing.B) []byte {
	b.Helper()
	steps := []string{"add_to_cart", "checkout", "view_product", "search", "pay"}
	g := newGen(benchPoints, 20000, time.Unix(1795708800, 0), steps, func(i int) float64 { return float64(i%997)*0.173 + 0.5 })
	data, err := io.ReadAll(g)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkIngestJSON ingests 200,000 k6 JSON points per op from memory
// (one core): points/s and allocations per point are reported.
func BenchmarkIngestJSON(b *testing.B) {
	data := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := New(Options{})
		if err := in.Read(context.Background(), bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
		if s := in.Finish(); s.Overall.Count != benchPoints {
			b.Fatalf("count %d", s.Overall.Count)
		}
	}
	b.ReportMetric(float64(benchPoints)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkParseJSONLine is the parser alone on one line.
func BenchmarkParseJSONLine(b *testing.B) {
	data := benchData(b)
	line := data[:bytes.IndexByte(data, '\n')]
	var p jsonParser
	p.keys[tagStep] = []byte("name")
	p.keys[tagStatus] = []byte("status")
	p.keys[tagExpected] = []byte("expected_response")
	p.keys[tagMethod] = []byte("method")
	p.keys[tagURL] = []byte("url")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngestJSONFile ingests 200,000 points per op from an
// uncompressed file on disk (plain, and gzip written by compress/gzip).
func BenchmarkIngestJSONFile(b *testing.B) {
	data := benchData(b)
	dir := b.TempDir()
	plain := filepath.Join(dir, "results.json")
	if err := os.WriteFile(plain, data, 0o644); err != nil {
		b.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(data)
	_ = zw.Close()
	gz := filepath.Join(dir, "results.json.gz")
	if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{{"plain", plain}, {"gzip", gz}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f, err := os.Open(c.path)
				if err != nil {
					b.Fatal(err)
				}
				in := New(Options{})
				if err := in.Read(context.Background(), f, c.path); err != nil {
					b.Fatal(err)
				}
				_ = f.Close()
				if s := in.Finish(); s.Overall.Count != benchPoints {
					b.Fatalf("count %d", s.Overall.Count)
				}
			}
			b.ReportMetric(float64(benchPoints)*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
