// Command target-idle measures what idle keep-alive connections cost a target shard: it
// starts a shard process (bench/target-shard, built and given by --shard-bin), opens --conns
// keep-alive connections to it from --sources loopback source addresses (127.0.0.2, ...),
// sends one request on each, leaves them idle, and reports the shard's resident memory
// (VmRSS from /proc/PID/status) before and after.
//
//	go build -o /tmp/shard ./bench/target-shard && go run ./bench/target-idle --shard-bin /tmp/shard
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentstorm/agentstorm/bench/internal/procstat"
)

func main() {
	bin := flag.String("shard-bin", "", "path of the built bench/target-shard binary (required)")
	conns := flag.Int("conns", 12500, "idle keep-alive connections to open")
	sources := flag.Int("sources", 4, "loopback source addresses to spread connections over (127.0.0.2 ...)")
	settle := flag.Duration("settle", 3*time.Second, "wait after opening before measuring")
	flag.Parse()
	if err := run(*bin, *conns, *sources, *settle); err != nil {
		fmt.Fprintf(os.Stderr, "target-idle: %v\n", err)
		os.Exit(1)
	}
}

func run(bin string, n, sources int, settle time.Duration) error {
	if bin == "" {
		return errors.New("--shard-bin is required")
	}
	dir, err := os.MkdirTemp("", "target-idle")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "--data-dir", dir, "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("shard stdout: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start shard: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read LISTENING line: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTENING ")
	if !ok {
		return fmt.Errorf("shard printed %q", line)
	}
	time.Sleep(500 * time.Millisecond)
	before, err := procstat.StatusKiB(cmd.Process.Pid, "VmRSS")
	if err != nil {
		return fmt.Errorf("shard memory: %w", err)
	}
	raddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", addr, err)
	}
	held := make([]net.Conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1024)
			req := []byte("GET /healthz HTTP/1.1\r\nHost: shard\r\n\r\n")
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}
				d := net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}
				c, err := d.Dial("tcp", raddr.String())
				if err == nil {
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err = c.Write(req); err == nil {
						var k int
						k, err = c.Read(buf)
						if err == nil && !bytes.HasPrefix(buf[:k], []byte("HTTP/1.1 200")) {
							err = fmt.Errorf("answer %q", buf[:min(k, 40)])
						}
					}
					_ = c.SetDeadline(time.Time{})
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					if c != nil {
						c.Close()
					}
					continue
				}
				held[i] = c
			}
		}()
	}
	wg.Wait()
	opened := time.Since(start)
	time.Sleep(settle)
	after, err := procstat.StatusKiB(cmd.Process.Pid, "VmRSS")
	if err != nil {
		return fmt.Errorf("shard memory: %w", err)
	}
	open := 0
	for _, c := range held {
		if c != nil {
			open++
		}
	}
	fmt.Printf("shard RSS before %.1f MiB, with %d idle keep-alive connections %.1f MiB (%.2f KiB per connection); opened in %v from %d source IPs; %d failed",
		float64(before)/1024, open, float64(after)/1024, float64(after-before)/float64(max(open, 1)), opened.Round(time.Millisecond), sources, failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf(" (first: %v)", e)
	}
	fmt.Println()
	for _, c := range held {
		if c != nil {
			c.Close()
		}
	}
	if open < n {
		return fmt.Errorf("only %d of %d connections held", open, n)
	}
	return nil
}
