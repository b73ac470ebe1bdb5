// Command stallserver is a fasthttp server for judging load generators: it
// answers every request at once (or after -delay), logs each request's arrival
// and answer time in memory, and on demand stalls every handler for a while in
// the middle of a run, so the true latency a user would have seen can be set
// against what each tool reports.
//
//	stallserver -listen 127.0.0.1:18300 -admin 127.0.0.1:18301 [-delay 20ms]
//
// The admin listener (plain net/http, not logged) takes:
//
//	GET /arm?after=3s&for=1s   clear the log; the stall starts `after` past the
//	                           first request that arrives next and lasts `for`
//	                           (for=0: no stall)
//	GET /truth?rate=2000       the figures of the requests logged since /arm,
//	                           as "key value" lines (see truth.go)
//	GET /dump?path=FILE        write the log as CSV (arrival_ns,answer_ns,
//	                           since the first arrival)
//
// The stall is a gate inside the handler: a request that reaches a handler
// while the stall is on waits until it ends, then is answered. Connections are
// still accepted and requests still read, so arrival times stay exact.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/bench/internal/clock"
)

// maxLog bounds the in-memory log (16 bytes an entry).
const maxLog = 20_000_000

// entry is one request: arrival (handler entry) and answer (body set, just
// before the handler returns), in nanoseconds since the server's base time.
type entry struct{ arrive, answer int64 }

// server holds the log and the stall plan.
type server struct {
	base  time.Time
	delay time.Duration
	body  []byte

	mu       sync.Mutex
	log      []entry
	overflow int64

	armed      atomic.Bool  // a stall is planned but not placed yet
	stallAfter atomic.Int64 // ns past the first arrival
	stallFor   atomic.Int64 // ns
	stallStart atomic.Int64 // ns since base; 0: none
	stallEnd   atomic.Int64
}

func (s *server) now() int64 { return int64(time.Since(s.base)) }

// handle is the fasthttp handler: gate, optional delay, fixed body, log.
func (s *server) handle(ctx *fasthttp.RequestCtx) {
	a := s.now()
	if s.armed.Load() && s.armed.CompareAndSwap(true, false) {
		if d := s.stallFor.Load(); d > 0 {
			st := a + s.stallAfter.Load()
			s.stallEnd.Store(st + d)
			s.stallStart.Store(st)
		}
	}
	if st := s.stallStart.Load(); st != 0 && a >= st {
		if wait := s.stallEnd.Load() - s.now(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
	}
	if s.delay > 0 {
		// A plain time.Sleep overshoots by up to a millisecond, which is the
		// whole error budget of an accuracy benchmark.
		clock.Sleep(s.delay)
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(s.body)
	e := s.now()
	s.mu.Lock()
	if len(s.log) < maxLog {
		s.log = append(s.log, entry{a, e})
	} else {
		s.overflow++
	}
	s.mu.Unlock()
}

// snapshot copies the log.
func (s *server) snapshot() ([]entry, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]entry(nil), s.log...), s.overflow
}

func (s *server) arm(w http.ResponseWriter, r *http.Request) {
	after, err := parseDur(r, "after", 3*time.Second)
	if err == nil {
		var d time.Duration
		d, err = parseDur(r, "for", time.Second)
		if err == nil {
			s.mu.Lock()
			s.log = s.log[:0]
			s.overflow = 0
			s.mu.Unlock()
			s.stallStart.Store(0)
			s.stallEnd.Store(0)
			s.stallAfter.Store(int64(after))
			s.stallFor.Store(int64(d))
			s.armed.Store(true)
			fmt.Fprintf(w, "armed after %s for %s\n", after, d)
			return
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (s *server) truth(w http.ResponseWriter, r *http.Request) {
	rate, err := strconv.ParseFloat(r.URL.Query().Get("rate"), 64)
	if err != nil || rate <= 0 || rate > 1e6 {
		http.Error(w, "truth: want rate=R, sessions per second in (0, 1e6]", http.StatusBadRequest)
		return
	}
	log, overflow := s.snapshot()
	st, end := s.stallStart.Load(), s.stallEnd.Load()
	t := computeTruth(log, rate, st, end)
	t.Overflow = overflow
	t.write(w)
}

func (s *server) dump(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path == "" {
		http.Error(w, "dump: want path=FILE", http.StatusBadRequest)
		return
	}
	log, _ := s.snapshot()
	if err := writeCSV(path, log); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "wrote %d entries to %s\n", len(log), path)
}

func parseDur(r *http.Request, key string, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration like 1s: %w", key, v, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration of 0 or more", key, v)
	}
	return d, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18300", "host:port of the logged fasthttp listener")
	admin := flag.String("admin", "127.0.0.1:18301", "host:port of the admin listener (arm, truth, dump)")
	delay := flag.Duration("delay", 0, "sleep this long in every handler before answering")
	flag.Parse()
	s := &server{base: time.Now(), delay: *delay, body: []byte(`{"ok":true}`), log: make([]entry, 0, 1<<20)}
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stallserver: listen %s: %v\n", *listen, err)
		os.Exit(1)
	}
	aln, err := net.Listen("tcp4", *admin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stallserver: admin listen %s: %v\n", *admin, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/arm", s.arm)
	mux.HandleFunc("/truth", s.truth)
	mux.HandleFunc("/dump", s.dump)
	go func() {
		if err := http.Serve(aln, mux); err != nil {
			fmt.Fprintf(os.Stderr, "stallserver: admin: %v\n", err)
			os.Exit(1)
		}
	}()
	fmt.Printf("LISTENING %s ADMIN %s\n", ln.Addr(), aln.Addr())
	srv := &fasthttp.Server{Handler: s.handle, Concurrency: 1 << 20}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "stallserver: serve: %v\n", err)
		os.Exit(1)
	}
}
