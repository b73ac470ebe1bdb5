package agents

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/report"
)

// pieceServer answers every request on a connection with answer(i) for
// its i-th request, written in the given pieces with a pause between them,
// so the agents' non-blocking reads see the answer arrive bit by bit.
func pieceServer(t *testing.T, answer func(i int) []string) string {
	return rawListener(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			req.Body.Close()
			for _, p := range answer(i) {
				if _, err := c.Write([]byte(p)); err != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	})
}

const captureProfile = `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->4 in 0s, hold 600ms"
  think: 10ms
flows:
  - name: f
    steps:
      - name: get
        method: GET
        path: /x
        capture: {id: $.id, h: {header: X-Id}}
        expect: {status: 200, body: tail-marker}
`

// TestAnswersInPieces: answers split anywhere (status line, header,
// body), chunked or not, with bodies larger than the read buffer, are read
// whole, checked and captured from.
func TestAnswersInPieces(t *testing.T) {
	big := strings.Repeat("z", 200<<10)
	body := `{"id":"abc","pad":"` + big + `","end":"tail-marker"}`
	var chunks strings.Builder
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 7000)
		fmt.Fprintf(&chunks, "%x\r\n%s\r\n", n, rest[:n])
		rest = rest[n:]
	}
	chunked := chunks.String() + "0\r\n\r\n"
	base := pieceServer(t, func(i int) []string {
		if i%2 == 0 {
			a := "HTTP/1.1 200 OK\r\nX-Id: h1\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
			return []string{a[:5], a[5:20], a[20:40], a[40:5000], a[5000:]}
		}
		a := "HTTP/1.1 200 OK\r\nX-Id: h1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
		return []string{a[:30], a[30:70], a[70:71], a[71:9000], a[9000:]}
	})
	sum, sw, err := runSwarm(t, context.Background(), load(t, captureProfile), Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count < 8 || sum.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors %v, failures %+v", sum.Overall.Count, sum.Overall.Errors, sum.Overall.Counts, sw.Failures())
	}
}

// TestConnectionLostMidAnswer: a server that closes (or resets) the
// connection halfway through an answer gives a reset outcome, never an OK,
// and the agents go on with fresh connections.
func TestConnectionLostMidAnswer(t *testing.T) {
	for _, reset := range []bool{false, true} {
		base := rawListener(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if req, err := http.ReadRequest(br); err == nil {
				req.Body.Close()
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":"))
			}
			if reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		})
		sum, sw, err := runSwarm(t, context.Background(), load(t, errorProfile), Config{BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		all := sum.Overall
		if all.Counts[report.ConnReset] < 4 || all.Counts[report.ConnReset] != all.Count {
			t.Fatalf("reset %v: outcomes %v, want only resets", reset, all.Counts)
		}
		if st := sw.Stats(); st.Dials < all.Count || st.Connected != 0 {
			t.Fatalf("reset %v: %d dials for %d requests, %d left connected", reset, st.Dials, all.Count, st.Connected)
		}
	}
}

// TestLoopDoesNotSpin: the loops sleep until their next timer. Agents in a
// long think time leave the loop asleep; think times under a millisecond
// are batched (the wait rounds up to the millisecond) rather than polled.
func TestLoopDoesNotSpin(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	rounds := func(sw *Swarm) (n int) {
		for _, l := range sw.loops {
			n += l.rounds
		}
		return n
	}
	idle := loadPing(t, `
  model: closed
  stages: "0->50 in 0s, hold 1s"
  think: 1h
`)
	sum, sw, err := runSwarm(t, context.Background(), idle, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	// 50 connects and answers, the level checks, the end: a few hundred
	// rounds at most; a loop polling in a 1 h think makes millions.
	if n := rounds(sw); sum.Overall.Count != 50 || n > 400 {
		t.Fatalf("%d requests, %d loop rounds in 1 s of 50 agents thinking 1 h", sum.Overall.Count, n)
	}
	short := loadPing(t, `
  model: closed
  stages: "0->20 in 0s, hold 1s"
  think: 200us
`)
	sum, sw, err = runSwarm(t, context.Background(), short, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	// Each agent's think rounds up to the next millisecond: about 1,000
	// rounds a second, each with a few answers and a batch of requests.
	n := rounds(sw)
	if sum.Overall.Count < 2000 || n > 3*int(sum.Overall.Count)+500 || n > 20000 {
		t.Fatalf("%d requests, %d loop rounds: the loop spins on short timers", sum.Overall.Count, n)
	}
	t.Logf("%d requests in %d loop rounds", sum.Overall.Count, n)
}

// fullBacklogListener listens with a backlog of 0 and never accepts: once
// its accept queue holds its one connection, further connects get no
// answer to their SYN and time out.
func fullBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}

// TestConnectTimeout: connects that never complete time out as timeouts,
// their sockets are closed (never taken for a connection), and the
// connection count never goes below zero.
func TestConnectTimeout(t *testing.T) {
	base := fullBacklogListener(t)
	prof := load(t, errorProfile)
	sw, rec := newSwarm(t, prof, Config{BaseURL: base, DialTimeout: 150 * time.Millisecond})
	var minConns atomic.Int64
	sw.cfg.Interval = 50 * time.Millisecond
	sw.cfg.OnInterval = func(_ *report.Interval, st Stats) {
		minConns.Store(min(minConns.Load(), st.Connected))
	}
	if err := sw.Run(context.Background()); err != nil && !errors.Is(err, ErrUnreachable) {
		t.Fatal(err)
	}
	all := rec.Summary(sw.Elapsed()).Overall
	st := sw.Stats()
	if all.Counts[report.Timeout] == 0 || all.Counts[report.OK] != 0 {
		t.Fatalf("outcomes %v, want timeouts (of the connects) and no OK", all.Counts)
	}
	if st.DialErrors == 0 || st.Connected != 0 || minConns.Load() < 0 {
		t.Fatalf("%d failed dials, %d connected at the end, lowest %d", st.DialErrors, st.Connected, minConns.Load())
	}
}

// TestNewConnectionsBounded: a new connection holds its loop's connect slot
// until its first answer, so no more than maxConcurrentDials connections
// wait for their first answer at once, however many agents start: a storm
// cannot pile more into a slow target's accept queue.
func TestNewConnectionsBounded(t *testing.T) {
	var waiting, most atomic.Int64
	base := rawListener(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for first := true; ; first = false {
			if first {
				n := waiting.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				if first {
					waiting.Add(-1)
				}
				return
			}
			req.Body.Close()
			if first {
				time.Sleep(50 * time.Millisecond)
				waiting.Add(-1)
			}
			if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); err != nil {
				return
			}
		}
	})
	prof := loadPing(t, `
  model: closed
  stages: "0->600 in 0s, hold 1s"
  think: 1h
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base, Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count != 600 || sum.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors; want 600 answered", sum.Overall.Count, sum.Overall.Errors)
	}
	if n := most.Load(); n > maxConcurrentDials || n < maxConcurrentDials/2 {
		t.Fatalf("%d new connections waited for their first answer at once, want at most %d (and near it)", n, maxConcurrentDials)
	}
}

// TestDefaultLoops: a few busy agents get a loop per core, a storm of
// mostly idle agents one per two cores (cores: GOMAXPROCS, which earlier
// swarms of this test binary may have raised past the CPUs, capped by them).
func TestDefaultLoops(t *testing.T) {
	procs := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	if got := DefaultLoops(256); got != procs {
		t.Errorf("256 agents: %d loops, want one per core (%d)", got, procs)
	}
	if got, want := DefaultLoops(15000), max(procs/2, 1); got != want {
		t.Errorf("15,000 agents: %d loops, want one per two cores (%d)", got, want)
	}
}

// TestLoopKeepsTheAnswerBuffer: the loop's response keeps its body buffer
// from one answer to the next (no allocation per answer), but not one that
// a huge answer grew.
func TestLoopKeepsTheAnswerBuffer(t *testing.T) {
	l, err := newLoop(&Swarm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.p.close()
	l.resp.SetBody(make([]byte, 1000))
	l.resetResp()
	if got := cap(l.resp.Body()); got < 1000 {
		t.Fatalf("after a 1,000-byte answer the kept buffer holds %d bytes", got)
	}
	kept := &l.resp.Body()[:1][0]
	l.resp.SetBody(make([]byte, 900))
	if &l.resp.Body()[0] != kept {
		t.Error("the next answer's body is not in the kept buffer")
	}
	l.resetResp()
	l.resp.SetBody(make([]byte, 2*maxKeptBuf))
	l.resetResp()
	if got := cap(l.resp.Body()); got > maxKeptBuf {
		t.Fatalf("a %d-byte buffer was kept after a huge answer", got)
	}
}

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(des)
}

// TestPrefilledSockets: prefill opens each agent's first socket, bound to
// its spread source address and not yet connected; an agent's connect
// takes its own; a run cut short closes those no agent took, leaving no
// descriptor behind.
func TestPrefilledSockets(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := load(t, "target: "+base+`
workload:
  model: closed
  stages: "0->2000 in 20s"
  think: 1s
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: /ping}
`)
	before := openFDs(t)
	s, rec := newSwarm(t, prof, Config{BaseURL: base})
	s.prefill(time.Time{})
	if got := openFDs(t) - before; got != 2000 {
		t.Fatalf("prefill opened %d descriptors for 2,000 agents, want 2,000", got)
	}
	last := s.all[1999]
	sa, err := unix.Getsockname(int(last.spare))
	if err != nil {
		t.Fatal(err)
	}
	if src, want := sa.(*unix.SockaddrInet4), s.dialer.sourceIP(last.ep, last.gid); !want.Equal(net.IP(src.Addr[:])) || src.Port != 0 {
		t.Fatalf("agent 1999's socket bound to %v port %d, want %v with no port (picked at connect)", net.IP(src.Addr[:]), src.Port, want)
	}
	if _, err := unix.Getpeername(int(last.spare)); err == nil {
		t.Fatal("a prefilled socket is connected before its agent starts")
	}
	spare := int(last.spare)
	if fd, err := last.socket(); err != nil || fd != spare || last.spare != -1 {
		t.Fatalf("the agent's connect took socket %d (%v), spare now %d; want its own %d", fd, err, last.spare, spare)
	}
	last.spare = int32(spare)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if sum := rec.Summary(s.Elapsed()); sum.Overall.Count == 0 || sum.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors: the prefilled sockets did not serve", sum.Overall.Count, sum.Overall.Errors)
	}
	for _, a := range s.all {
		if a.spare != -1 {
			t.Fatalf("agent %d still holds socket %d after the run", a.id, a.spare)
		}
	}
	// The test server closes its ends as the agents' resets reach it.
	for i := 0; openFDs(t) > before && i < 250; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if left := openFDs(t) - before; left > 0 {
		t.Fatalf("%d descriptors left open after the run", left)
	}
}
