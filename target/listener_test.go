package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// exhaustedListener is a real TCP listener whose Accept fails with EMFILE while fails > 0,
// as the kernel's accept4 does when the process is out of descriptors.
type exhaustedListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *exhaustedListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func getHealth(addr string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/healthz")
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		return err
	}
	if resp.StatusCode() != 200 {
		return fmt.Errorf("status %d", resp.StatusCode())
	}
	return nil
}

func TestPlainServeStopsOnEMFILE(t *testing.T) {
	// The problem being solved: fasthttp's Serve returns on EMFILE and never accepts again.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	ln := &exhaustedListener{Listener: inner}
	ln.fails.Store(1)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {}, Logger: logfLogger(t.Logf)}
	err = srv.Serve(ln)
	if !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("plain Serve returned %v, want EMFILE", err)
	}
}

func TestResilientListenerSurvivesEMFILE(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ex := &exhaustedListener{Listener: inner}
	ex.fails.Store(4)
	ln := newResilientListener(ex, 0, t.Logf)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, Logger: logfLogger(t.Logf)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	if err := getHealth(inner.Addr().String()); err != nil {
		t.Fatalf("request after 4 EMFILEs: %v", err)
	}
	if r := ln.retries.Load(); r != 4 {
		t.Fatalf("retries %d, want 4", r)
	}
	// It keeps accepting after a second exhaustion, too.
	ex.fails.Store(2)
	if err := getHealth(inner.Addr().String()); err != nil {
		t.Fatalf("request after more EMFILEs: %v", err)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	if o := ln.open.Load(); o != 0 {
		t.Fatalf("open connections after shutdown: %d", o)
	}
}

func TestResilientListenerCloseEndsBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ex := &exhaustedListener{Listener: inner}
	ex.fails.Store(1 << 30)
	ln := newResilientListener(ex, 0, nil)
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(30 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Accept kept waiting after Close")
	}
}

// Environment of a test binary re-executed as a shard process.
const (
	envChild      = "AGENTSTORM_TARGET_TEST_SHARD"
	envChildFiles = "AGENTSTORM_TARGET_TEST_NOFILE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		if n, err := strconv.ParseUint(os.Getenv(envChildFiles), 10, 64); err == nil && n > 0 {
			lim := syscall.Rlimit{Cur: n, Max: n}
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				fmt.Fprintf(os.Stderr, "setrlimit: %v\n", err)
				os.Exit(3)
			}
		}
		os.Exit(RunShardMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startChildShard re-executes the test binary as a shard process with at most nofile open
// files and returns its address; the process is killed at cleanup.
func startChildShard(t *testing.T, nofile int, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--data-dir", t.TempDir()}, args...)...)
	return startChild(t, cmd, nofile)
}

// startChild starts cmd (the test binary with shard flags) as a shard process.
func startChild(t *testing.T, cmd *exec.Cmd, nofile int) (string, *exec.Cmd) {
	t.Helper()
	cmd.Env = append(os.Environ(), envChild+"=1", envChildFiles+"="+strconv.Itoa(nofile))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "LISTENING ")
		if !ok {
			t.Fatalf("child printed %q, want LISTENING host:port", l)
		}
		return addr, cmd
	case <-time.After(10 * time.Second):
		t.Fatal("child shard did not print LISTENING in 10s")
	}
	return "", nil
}

func TestShardSurvivesFDExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a shard process and exhausts its descriptors")
	}
	addr, cmd := startChildShard(t, 48)
	// Open more connections than the child has descriptors; the kernel completes the
	// handshakes into the listen backlog, the child accepts until EMFILE.
	const n = 80
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		_ = c.SetDeadline(deadline)
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	served := 0
	for _, c := range conns {
		buf := make([]byte, 12)
		if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "HTTP/1.1 200" {
			served++
		}
	}
	if served == 0 || served == n {
		t.Fatalf("%d of %d connections served; want some but not all (descriptors exhausted)", served, n)
	}
	for _, c := range conns {
		c.Close()
	}
	// Descriptors are free again: the same process serves new connections.
	deadline = time.Now().Add(5 * time.Second)
	for {
		err := getHealth(addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard did not serve again after descriptors freed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cmd.ProcessState != nil {
		t.Fatal("child exited")
	}
	// The shard counted the accept errors it waited out.
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/metrics")
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp.Body()), "agentstorm_target_accept_retries_total{region=\"us-east\",shard=\"0\"} 0\n") {
		t.Fatal("metrics show no accept retries")
	}
	t.Logf("%d of %d served while exhausted", served, n)
}

func TestRunShardMainFlags(t *testing.T) {
	var out, errb strings.Builder
	if code := RunShardMain(context.Background(), []string{"--bogus"}, &out, &errb); code != 2 {
		t.Fatalf("unknown flag: exit %d", code)
	}
	if code := RunShardMain(context.Background(), []string{"--id", "1"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--data-dir is required") {
		t.Fatalf("missing data dir: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := RunShardMain(context.Background(), []string{"--data-dir", t.TempDir(), "--order-rate", "-1"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "order rate") {
		t.Fatalf("negative rate: exit %d, stderr %q", code, errb.String())
	}
}

func TestRunShardMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- RunShardMain(ctx, []string{"--id", "2", "--region", "ap-tokyo", "--data-dir", t.TempDir(), "--extra-rtt", "1ms"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(line, "LISTENING ")
	if !ok || !strings.HasSuffix(addr, "\n") {
		t.Fatalf("first line %q", line)
	}
	addr = strings.TrimSpace(addr)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + addr + "/healthz")
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil || !strings.Contains(string(resp.Body()), `"region":"ap-tokyo"`) {
		t.Fatalf("healthz: %v %s", err, resp.Body())
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d after cancel", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunShardMain did not return after cancel")
	}
}

func TestMaxConnsCap(t *testing.T) {
	s := newTestShard(t, ShardConfig{MaxConns: 3})
	request := func(c net.Conn) string {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err.Error()
		}
		buf := make([]byte, 12)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err.Error()
		}
		return string(buf)
	}
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := request(c); got != "HTTP/1.1 200" {
			t.Fatalf("connection %d under the cap: %q", i, got)
		}
		held = append(held, c)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := request(c); got != "HTTP/1.1 503" {
		t.Fatalf("connection over the cap of 3: %q, want 503", got)
	}
	rest, _ := io.ReadAll(c)
	if !strings.Contains(string(rest), `{"error":"this shard holds its maximum of open connections`) {
		t.Fatalf("503 answer: %q", rest)
	}
	if r := s.stats().refused.Load(); r != 1 {
		t.Fatalf("refused %d, want 1", r)
	}
	// Freeing one makes room again.
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		got := request(c)
		c.Close()
		if got == "HTTP/1.1 200" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after closing a connection: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
