package target

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"
)

// ShardConfig configures one shard.
type ShardConfig struct {
	ID           int           // shard number, 0-based
	Region       string        // region this shard serves, e.g. "us-east"
	Listen       string        // host:port; port 0 picks a free port; empty means 127.0.0.1:0
	DataDir      string        // this shard's own directory (its order log inside); created if missing
	OrderRate    float64       // orders turned from queued to created per second (0 = DefaultOrderRate)
	ControlToken string        // bearer token for /internal/chaos; empty disables the endpoint
	ExtraRTT     time.Duration // added to every answer (topology central: region -> us-east origin RTT)
	MaxConns     int           // cap on open client connections (0 = DefaultMaxConns)
	StockPerSKU  int64         // initial stock of every SKU (0 = DefaultStockPerSKU)
	// Server is how the shard serves HTTP: ServerLoop (event loops, the default on Linux)
	// or ServerGoroutines (fasthttp's goroutine per connection; the default elsewhere).
	Server string
	// Loops is the number of event loops of ServerLoop (0: GOMAXPROCS).
	Loops int
	// UnsafeAckBeforeWrite answers checkouts 202 before the order is written (it is written
	// a second later): deliberately broken durability, for the test that proves the
	// game-day order audit catches lost orders. Never use it otherwise.
	UnsafeAckBeforeWrite bool
	// Logf receives the shard's rare log lines (accept errors, store errors); nil uses the
	// standard logger.
	Logf func(format string, args ...any)
}

// DefaultOrderRate is the worker's rate when ShardConfig.OrderRate is 0.
const DefaultOrderRate = 100

// Server tuning: small per-connection buffers so that many idle keep-alive connections stay
// cheap; bodies over MaxBodySize are refused with 413.
const (
	MaxBodySize     = 64 << 10
	readBufferSize  = 2048
	writeBufferSize = 2048
	idleTimeout     = 5 * time.Minute
)

// Shard is one running shard of the reference checkout: an HTTP server, its carts,
// inventory, durable order queue and order worker.
type Shard struct {
	cfg     ShardConfig
	http    atomic.Pointer[httpServer] // set once serving started; read by /metrics, which may come first
	store   *orderStore
	carts   *cartStore
	inv     *inventory
	metrics *shardMetrics
	chaos   atomic.Pointer[chaosRuntime]
	decs    sync.Pool // *decoder
	bufs    sync.Pool // *[]byte

	cartPrefix string // "c<id>-" (order ids: orderStore.idPrefix)

	inflightMu sync.Mutex
	inflight   map[string]chan struct{} // idempotency keys of checkouts in progress

	stopWorker context.CancelFunc
	workerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// StartShard opens the shard's store, starts its order worker and serves HTTP on cfg.Listen.
// The shard is listening and serving when it returns.
func StartShard(cfg ShardConfig) (*Shard, error) {
	if cfg.ID < 0 {
		return nil, fmt.Errorf("shard id %d: must not be negative", cfg.ID)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("shard data dir: must be set")
	}
	if cfg.OrderRate < 0 {
		return nil, fmt.Errorf("order rate %v: must not be negative", cfg.OrderRate)
	}
	if cfg.OrderRate == 0 {
		cfg.OrderRate = DefaultOrderRate
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("max conns %d: must not be negative", cfg.MaxConns)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.StockPerSKU < 0 {
		return nil, fmt.Errorf("stock per SKU %d: must not be negative", cfg.StockPerSKU)
	}
	if cfg.StockPerSKU == 0 {
		cfg.StockPerSKU = DefaultStockPerSKU
	}
	if cfg.ExtraRTT < 0 {
		return nil, fmt.Errorf("extra RTT %v: must not be negative", cfg.ExtraRTT)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	store, err := openStore(cfg.DataDir, cfg.ID, cfg.Logf)
	if err != nil {
		return nil, fmt.Errorf("start shard %d: %w", cfg.ID, err)
	}
	store.unsafeAck = cfg.UnsafeAckBeforeWrite
	s := &Shard{
		cfg:        cfg,
		store:      store,
		carts:      newCartStore(cartsPerGeneration),
		inv:        newInventory(cfg.StockPerSKU),
		cartPrefix: fmt.Sprintf("c%d-", cfg.ID),
		inflight:   make(map[string]chan struct{}),
		workerDone: make(chan struct{}),
	}
	s.decs.New = func() any { return new(decoder) }
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	s.chaos.Store(&chaosRuntime{extraRTT: cfg.ExtraRTT})
	s.metrics = newShardMetrics(s)
	srv, err := startServer(s, cfg)
	if err != nil {
		_ = store.close()
		return nil, fmt.Errorf("start shard %d: %w", cfg.ID, err)
	}
	s.http.Store(&srv)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWorker = cancel
	go s.runWorker(ctx)
	return s, nil
}

// Addr returns the host:port the shard listens on.
func (s *Shard) Addr() string { return (*s.http.Load()).addr().String() }

// stats returns the counts of the shard's client connections (none yet
// while StartShard has not stored its server).
func (s *Shard) stats() *connStats {
	if srv := s.http.Load(); srv != nil {
		return (*srv).stats()
	}
	return &connStats{}
}

// URL returns the shard's base URL, "http://" + Addr().
func (s *Shard) URL() string { return "http://" + s.Addr() }

// SetChaos replaces the shard's whole chaos state (the in-process equivalent of
// POST /internal/chaos). An invalid state (see ChaosState.Validate) is ignored and logged.
func (s *Shard) SetChaos(c ChaosState) {
	if err := c.Validate(); err != nil {
		s.cfg.Logf("shard %d: ignoring invalid chaos state: %v", s.cfg.ID, err)
		return
	}
	s.setChaos(c)
}

func (s *Shard) setChaos(c ChaosState) {
	rules := make([]LatencyRule, 0, len(c.Latency))
	for _, r := range c.Latency {
		if r.Fixed > 0 || r.Jitter > 0 {
			rules = append(rules, r)
		}
	}
	c.Latency = append([]LatencyRule(nil), c.Latency...)
	s.chaos.Store(&chaosRuntime{state: c, extraRTT: s.cfg.ExtraRTT, rules: rules})
}

// Chaos returns the chaos state in force.
func (s *Shard) Chaos() ChaosState {
	c := s.chaos.Load().state
	c.Latency = append([]LatencyRule(nil), c.Latency...)
	return c
}

// closeGrace is how long Close lets requests in flight finish.
const closeGrace = time.Second

// Close stops serving (closing idle connections and giving requests in flight a second), stops the order worker, commits pending checkouts and closes the store.
func (s *Shard) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if err := (*s.http.Load()).shutdown(closeGrace); err != nil {
			errs = append(errs, err)
		}
		s.stopWorker()
		<-s.workerDone
		if err := s.store.close(); err != nil {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("close shard %d: %w", s.cfg.ID, errors.Join(errs...))
		}
	})
	return s.closeErr
}

// workerTick is how often the order worker wakes up. Each wake-up that has
// work is one append to the order log and one fdatasync (see minCommitGap for what one
// costs): at the default 100 orders/s, 100 ms creates 10 orders per fsync where 10 ms
// created 1. An order waits for its creation up to a tick longer.
const workerTick = 100 * time.Millisecond

// runWorker turns queued orders into created ones at cfg.OrderRate per second (a token
// bucket holding at most a tenth of a second of tokens, at least one), unless paused.
func (s *Shard) runWorker(ctx context.Context) {
	defer close(s.workerDone)
	rate := s.cfg.OrderRate
	burst := rate / 10
	if burst < 1 {
		burst = 1
	}
	t := time.NewTicker(workerTick)
	defer t.Stop()
	tokens, last := 0.0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			dt := now.Sub(last).Seconds()
			last = now
			if s.chaos.Load().state.OrdersPaused {
				tokens = 0
				continue
			}
			tokens += dt * rate
			if tokens > burst {
				tokens = burst
			}
			n := int(tokens)
			if q := s.store.queued.Load(); int64(n) > q {
				n = int(q)
			}
			if n <= 0 {
				continue
			}
			made, err := s.store.createNext(n)
			if err != nil {
				// A failing store (disk full, say) is retried once a second, not every tick.
				s.cfg.Logf("shard %d: order worker: %v; retrying in 1s", s.cfg.ID, err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				last = time.Now()
				continue
			}
			tokens -= float64(made)
		}
	}
}
