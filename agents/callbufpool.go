package agents

import "time"

// callBuf is what one call borrows from its loop: the request (kept until
// the call ends, for a resend on a fresh connection), how much of it was
// written, and the answer's bytes as they arrive. It goes back to the loop
// when the call ends, so an agent holds none through its think time.
type callBuf struct {
	w    []byte
	sent int
	r    []byte
	fr   framing
}

// callBufPool is a loop's pool of call buffers. It keeps as many buffers as
// were lent at once lately (the most in this window or the last one, at
// least minKeptCallBufs), so the calls of a storm's hold reuse buffers
// already grown to their answers. A fixed bound of 256 kept too few: every
// latency spike put more calls in flight than that, the extra buffers went
// to the garbage collector when their calls ended, and they were made and
// grown anew at the next spike. That was 85–95% of what a storm's generator
// allocated during its hold (bench/RESULTS.md, session 9). Buffers beyond
// the recent peak (after a ramp, say) go to the garbage collector within
// two windows.
type callBufPool struct {
	free     []*callBuf
	lent     int       // buffers lent now
	peak     int       // most lent at once in this window
	lastPeak int       // most lent at once in the last window
	until    time.Time // end of this window
}

// minKeptCallBufs is how many buffers a pool may keep however few were
// lent lately.
const minKeptCallBufs = 256

// callBufWindow is how long a pool remembers how many buffers were lent at
// once.
const callBufWindow = 5 * time.Second

// maxKeptBuf is the largest buffer a loop keeps for the next call: a
// one-off huge request or answer goes to the garbage collector.
const maxKeptBuf = 64 << 10

// get lends a buffer.
func (p *callBufPool) get() *callBuf {
	p.lent++
	p.peak = max(p.peak, p.lent)
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return &callBuf{w: make([]byte, 0, writeBufSize), r: make([]byte, 0, readBufSize)}
}

// put takes a lent buffer back, keeping it unless the pool would then hold
// more than it keeps or the buffer grew huge.
func (p *callBufPool) put(b *callBuf) {
	p.lent--
	if cap(b.w) > maxKeptBuf || cap(b.r) > maxKeptBuf || len(p.free)+p.lent >= p.keep() {
		return
	}
	b.w, b.r, b.sent = b.w[:0], b.r[:0], 0
	p.free = append(p.free, b)
}

// keep is how many buffers, lent and free, the pool keeps.
func (p *callBufPool) keep() int { return max(minKeptCallBufs, p.peak, p.lastPeak) }

// roll starts a new window once this one is over (the loop calls it every
// round) and drops the free buffers the pool no longer keeps.
func (p *callBufPool) roll(now time.Time) {
	if now.Before(p.until) {
		return
	}
	p.until = now.Add(callBufWindow)
	p.lastPeak, p.peak = p.peak, p.lent
	if extra := len(p.free) + p.lent - p.keep(); extra > 0 {
		n := max(len(p.free)-extra, 0)
		clear(p.free[n:])
		p.free = p.free[:n]
	}
}
