package agents

import (
	"testing"
	"time"
)

// lend takes n buffers from p and returns them.
func lend(p *callBufPool, n int) []*callBuf {
	bs := make([]*callBuf, n)
	for i := range bs {
		bs[i] = p.get()
	}
	return bs
}

func TestCallBufPoolKeepsTheRecentPeak(t *testing.T) {
	var p callBufPool
	t0 := time.Unix(1000, 0)
	p.roll(t0)
	const spike = 3 * minKeptCallBufs
	first := lend(&p, spike)
	first[0].r = append(first[0].r, make([]byte, 4*readBufSize)...) // an answer grew it
	for _, b := range first {
		p.put(b)
	}
	if len(p.free) != spike {
		t.Fatalf("after a spike of %d calls the pool keeps %d buffers, want all %d", spike, len(p.free), spike)
	}
	// The next spike, in this window or the next, reuses them: nothing new,
	// and a buffer keeps what it grew to.
	p.roll(t0.Add(callBufWindow))
	seen := map[*callBuf]bool{}
	for _, b := range first {
		seen[b] = true
	}
	grown := false
	second := lend(&p, spike)
	for _, b := range second {
		if !seen[b] {
			t.Fatal("the second spike got a new buffer; want the first spike's")
		}
		if len(b.r) != 0 || len(b.w) != 0 || b.sent != 0 {
			t.Fatal("a reused buffer was not emptied")
		}
		grown = grown || cap(b.r) > readBufSize
	}
	if !grown {
		t.Error("the grown buffer lost its capacity")
	}
	for _, b := range second {
		p.put(b)
	}
	// Two windows of few calls: the pool shrinks to its floor.
	p.roll(t0.Add(2 * callBufWindow))
	if len(p.free) != spike {
		t.Fatalf("one window after the spike the pool keeps %d, want %d (the last window's peak)", len(p.free), spike)
	}
	p.roll(t0.Add(3 * callBufWindow))
	if len(p.free) != minKeptCallBufs {
		t.Fatalf("two quiet windows after the spike the pool keeps %d, want %d", len(p.free), minKeptCallBufs)
	}
}

func TestCallBufPoolCountsLentBuffers(t *testing.T) {
	var p callBufPool
	t0 := time.Unix(1000, 0)
	p.roll(t0)
	held := lend(&p, minKeptCallBufs)
	back := lend(&p, 10)
	for _, b := range back {
		p.put(b)
	}
	// 256 still lent and 10 free: the pool holds the window's peak, 266.
	if got := len(p.free) + p.lent; got != minKeptCallBufs+10 {
		t.Fatalf("pool holds %d buffers, want %d", got, minKeptCallBufs+10)
	}
	for _, b := range held {
		p.put(b)
	}
	p.roll(t0.Add(callBufWindow))
	p.roll(t0.Add(2 * callBufWindow))
	if p.lent != 0 || len(p.free) != minKeptCallBufs {
		t.Fatalf("after two quiet windows: %d lent, %d free; want 0 and %d", p.lent, len(p.free), minKeptCallBufs)
	}
}

func TestCallBufPoolDropsHugeBuffers(t *testing.T) {
	var p callBufPool
	b := p.get()
	b.r = make([]byte, 0, maxKeptBuf+1)
	p.put(b)
	if len(p.free) != 0 || p.lent != 0 {
		t.Fatalf("a %d-byte buffer was kept (free %d, lent %d)", maxKeptBuf+1, len(p.free), p.lent)
	}
}
