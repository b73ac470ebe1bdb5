package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/agentstorm/agentstorm/report"
)

// rwSeries is one decoded remote-write time series.
type rwSeries struct {
	labels []string // name=value, in the order received
	value  float64
	ts     int64
}

// key is the series' labels joined, as received.
func (s rwSeries) key() string { return strings.Join(s.labels, ",") }

// decodeWriteRequest decodes a remote-write 1.0 WriteRequest by the
// protocol's field numbers (independently of the encoder).
func decodeWriteRequest(t *testing.T, b []byte) []rwSeries {
	t.Helper()
	fields := func(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("bad tag: %v", protowire.ParseError(n))
			}
			b = b[n:]
			switch typ {
			case protowire.BytesType:
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					t.Fatalf("bad bytes: %v", protowire.ParseError(n))
				}
				fn(num, typ, v, 0)
				b = b[n:]
			case protowire.VarintType:
				x, n := protowire.ConsumeVarint(b)
				fn(num, typ, nil, x)
				b = b[n:]
			case protowire.Fixed64Type:
				x, n := protowire.ConsumeFixed64(b)
				fn(num, typ, nil, x)
				b = b[n:]
			default:
				t.Fatalf("unexpected wire type %v", typ)
			}
		}
	}
	var out []rwSeries
	fields(b, func(num protowire.Number, _ protowire.Type, ts []byte, _ uint64) {
		if num != 1 {
			t.Fatalf("WriteRequest field %d", num)
		}
		var s rwSeries
		samples := 0
		fields(ts, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
			switch num {
			case 1:
				var name, value string
				fields(v, func(num protowire.Number, _ protowire.Type, v []byte, _ uint64) {
					if num == 1 {
						name = string(v)
					} else {
						value = string(v)
					}
				})
				s.labels = append(s.labels, name+"="+value)
			case 2:
				samples++
				fields(v, func(num protowire.Number, _ protowire.Type, _ []byte, x uint64) {
					if num == 1 {
						s.value = math.Float64frombits(x)
					} else {
						s.ts = int64(x)
					}
				})
			default:
				t.Fatalf("TimeSeries field %d", num)
			}
		})
		if samples != 1 {
			t.Fatalf("series %v has %d samples", s.labels, samples)
		}
		out = append(out, s)
	})
	return out
}

// receiver is a remote-write endpoint on loopback that keeps every
// request's series, answering the codes of answers in turn (then 204).
type receiver struct {
	t       *testing.T
	mu      sync.Mutex
	pushes  [][]rwSeries
	answers []int
	auth    string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for h, want := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf", "X-Prometheus-Remote-Write-Version": "0.1.0"} {
		if got := r.Header.Get(h); got != want {
			rc.t.Errorf("push header %s: %q, want %q", h, got, want)
		}
	}
	if u, p, ok := r.BasicAuth(); ok {
		rc.auth = u + ":" + p
	}
	body, _ := io.ReadAll(r.Body)
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		rc.t.Errorf("push body is not snappy: %v", err)
	}
	rc.pushes = append(rc.pushes, decodeWriteRequest(rc.t, pb))
	code := http.StatusNoContent
	if len(rc.answers) > 0 {
		code, rc.answers = rc.answers[0], rc.answers[1:]
	}
	w.WriteHeader(code)
	if code >= 400 {
		fmt.Fprintf(w, "refused with %d", code)
	}
}

func (rc *receiver) last() []rwSeries {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.pushes[len(rc.pushes)-1]
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.pushes)
}

// TestRemoteWrite pushes a storm's metrics to a receiver on loopback:
// periodic pushes while it runs, and at Close a final one with the last
// interval's counts; names, labels (job, instance, const labels, sorted)
// and values are what the run recorded, and the le="0.1" bucket holds the
// run's within-100-ms count.
func TestRemoteWrite(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east"}, Start: start, Model: report.ModelOpen})
	m := New(rec.Steps(), rec.Regions(), map[string]string{"segment": "1/4"})
	p, err := m.PushTo(strings.Replace(srv.URL, "http://", "http://storm:s3cret@", 1)+"/api/v1/write", PushOptions{Every: 20 * time.Millisecond, Instance: "pod-7"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		rec.Record(i, 0, 0, time.Duration(50+i)*time.Millisecond, report.OK, 0)
	}
	iv := rec.Rotate(start.Add(time.Second))
	m.Observe(iv, Snapshot{Active: 30, Connected: 30, Dials: 30})
	rec.Release(iv)
	for deadline := time.Now().Add(5 * time.Second); rc.count() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if rc.count() < 2 {
		t.Fatalf("%d periodic pushes in 5 s at 20 ms", rc.count())
	}
	// The last interval: recorded after the periodic pushes, pushed by Close.
	rec.Record(0, 1, 0, 3*time.Second, report.Timeout, 0)
	rec.Record(0, 0, 0, 100*time.Millisecond, report.OK, 0)
	iv = rec.Rotate(start.Add(2 * time.Second))
	m.Observe(iv, Snapshot{Active: 0, Connected: 0, Dials: 31})
	rec.Release(iv)
	before := time.Now().UnixMilli()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rc.auth != "storm:s3cret" {
		t.Errorf("basic auth from the URL: %q", rc.auth)
	}
	sum := rec.Summary(2 * time.Second)

	byKey := map[string]rwSeries{}
	for _, s := range rc.last() {
		if !sort.StringsAreSorted(s.labels) {
			t.Errorf("labels not sorted: %v", s.labels)
		}
		if s.ts < before || s.ts > time.Now().UnixMilli() {
			t.Errorf("series %v stamped %d, not at the push", s.labels, s.ts)
		}
		byKey[s.key()] = s
	}
	base := "instance=pod-7,job=agentstorm"
	for _, c := range []struct {
		labels string
		want   float64
	}{
		{"__name__=agentstorm_requests_total," + base + ",outcome=ok,region=us-east,segment=1/4,step=add_to_cart", 301},
		{"__name__=agentstorm_requests_total," + base + ",outcome=timeout,region=us-east,segment=1/4,step=checkout", 1},
		{"__name__=agentstorm_errors_total," + base + ",region=us-east,segment=1/4,step=checkout", 1},
		{"__name__=agentstorm_request_duration_seconds_bucket," + base + ",le=0.1,region=us-east,segment=1/4,step=add_to_cart", float64(sum.PerStep[0].Raw.Under)},
		{"__name__=agentstorm_request_duration_seconds_bucket," + base + ",le=+Inf,region=us-east,segment=1/4,step=add_to_cart", 301},
		{"__name__=agentstorm_request_duration_seconds_count," + base + ",region=us-east,segment=1/4,step=add_to_cart", 301},
		{"__name__=agentstorm_request_duration_seconds_bucket," + base + ",le=5,region=us-east,segment=1/4,step=checkout", 1},
		{"__name__=agentstorm_request_duration_seconds_bucket," + base + ",le=2,region=us-east,segment=1/4,step=checkout", 0},
		{"__name__=agentstorm_agents_active," + base + ",segment=1/4", 0},
		{"__name__=agentstorm_dials_total," + base + ",segment=1/4", 31},
	} {
		s, ok := byKey[c.labels]
		if !ok {
			t.Errorf("no series {%s} in the final push", c.labels)
			continue
		}
		if s.value != c.want {
			t.Errorf("{%s} = %v, want %v", c.labels, s.value, c.want)
		}
	}
	if sum.PerStep[0].Raw.Under != 52 { // 50…100 ms, and 100 ms again
		t.Errorf("the run counts %d within 100 ms, want 52: the test's premise", sum.PerStep[0].Raw.Under)
	}
	// Every bucket of each cell: Buckets and +Inf.
	nb := 0
	for k := range byKey {
		if strings.Contains(k, "_bucket,") && strings.Contains(k, "step=add_to_cart") {
			nb++
		}
	}
	if nb != len(Buckets)+1 {
		t.Errorf("%d bucket series for add_to_cart, want %d", nb, len(Buckets)+1)
	}
}

// TestRemoteWriteRefused: a receiver's 5xx is retried at Close until it
// lands; a 4xx is not, and Close says how many pushes failed, with the
// receiver's answer and without the URL's password.
func TestRemoteWriteRefused(t *testing.T) {
	m := New([]string{"s"}, []string{"r"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rc := &receiver{t: t, answers: []int{503, 500}}
	srv := httptest.NewServer(rc)
	p, err := m.PushTo(srv.URL, PushOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil || rc.count() != 3 {
		t.Errorf("after 503 and 500: %v, %d pushes; want nil after 3", err, rc.count())
	}
	srv.Close()

	rc = &receiver{t: t, answers: []int{400, 400}}
	srv = httptest.NewServer(rc)
	defer srv.Close()
	p, err = m.PushTo(strings.Replace(srv.URL, "http://", "http://u:hunter2@", 1), PushOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Push(ctx); err == nil {
		t.Error("a 400 is no error")
	}
	err = p.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 of 2 pushes failed") || !strings.Contains(err.Error(), "400") ||
		!strings.Contains(err.Error(), "refused with 400") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Close after two 400s: %v", err)
	}
	if rc.count() != 2 {
		t.Errorf("a 400 was retried: %d pushes", rc.count())
	}

	// Nobody listening: Close gives up when its context ends, and says so.
	p, err = m.PushTo("http://127.0.0.1:1/api/v1/write", PushOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancelShort()
	if err := p.Close(short); err == nil || !strings.Contains(err.Error(), "pushes failed") {
		t.Errorf("Close with no receiver: %v", err)
	}

	for _, bad := range []string{"", "prometheus:9090", "ftp://x/y", "http://"} {
		if _, err := m.PushTo(bad, PushOptions{}); err == nil {
			t.Errorf("PushTo(%q): no error", bad)
		}
	}
}
