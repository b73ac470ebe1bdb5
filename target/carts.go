package target

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxCartItems bounds the distinct SKUs in one cart.
const maxCartItems = 200

// cartsPerGeneration is how many carts a shard keeps per cache generation; with two
// generations a shard holds at most twice this many carts. Carts untouched for a whole
// generation are dropped (abandoned) and their reserved stock goes back to inventory.
const cartsPerGeneration = 1 << 19

// cartItem is one line of a cart: qty units, of which reserved came from stock and the rest
// are pre-ordered.
type cartItem struct {
	e        *skuEntry
	qty      int64
	reserved int64
}

// cart is one customer's cart.
type cart struct {
	mu       sync.Mutex
	num      uint64
	customer string
	region   string
	items    []cartItem
}

// releaseAll returns the stock reserved by every item and empties the cart. Callers hold mu.
func (c *cart) releaseAll() {
	for i := range c.items {
		c.items[i].e.release(c.items[i].reserved)
	}
	c.items = c.items[:0]
}

const cartParts = 64

// cartStore is the shard's in-memory cart cache: 64 partitions, each a two-generation map,
// so lookups are cheap and memory stays bounded in a long storm.
type cartStore struct {
	base    uint64
	perPart int // carts per partition per generation
	next    atomic.Uint64
	parts   [cartParts]struct {
		mu   sync.RWMutex
		cur  map[uint64]*cart
		prev map[uint64]*cart
	}
}

// newCartStore makes a cart cache holding about perGeneration carts per generation.
func newCartStore(perGeneration int) *cartStore {
	// Numbers start from the start time in microseconds, so ids stay unique across restarts
	// (a shard does not make a million carts per second).
	cs := &cartStore{base: uint64(time.Now().UnixMicro()), perPart: max(1, perGeneration/cartParts)}
	for i := range cs.parts {
		cs.parts[i].cur = make(map[uint64]*cart)
	}
	return cs
}

// create makes a new cart and returns it.
func (cs *cartStore) create(customer, region string) *cart {
	n := cs.base + cs.next.Add(1)
	c := &cart{num: n, customer: customer, region: region}
	p := &cs.parts[n%cartParts]
	var dropped map[uint64]*cart
	p.mu.Lock()
	if len(p.cur) >= cs.perPart {
		dropped, p.prev, p.cur = p.prev, p.cur, make(map[uint64]*cart)
	}
	p.cur[n] = c
	p.mu.Unlock()
	for _, old := range dropped {
		old.mu.Lock()
		old.releaseAll()
		old.mu.Unlock()
	}
	return c
}

// get returns cart n or nil. A cart found in the old generation moves to the current one.
func (cs *cartStore) get(n uint64) *cart {
	p := &cs.parts[n%cartParts]
	p.mu.RLock()
	c := p.cur[n]
	if c == nil && p.prev != nil {
		c = p.prev[n]
	} else {
		p.mu.RUnlock()
		return c
	}
	p.mu.RUnlock()
	if c == nil {
		return nil
	}
	p.mu.Lock()
	if p.prev[n] == c {
		delete(p.prev, n)
		p.cur[n] = c
	}
	p.mu.Unlock()
	return c
}
