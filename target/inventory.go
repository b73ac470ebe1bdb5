package target

import (
	"sync"
	"sync/atomic"
)

// DefaultStockPerSKU is the stock every SKU starts with when ShardConfig.StockPerSKU is 0.
const DefaultStockPerSKU = 5000

// maxSKUs bounds the catalog a shard keeps in memory, whatever SKUs a storm invents.
const maxSKUs = 1 << 20

// skuEntry is one SKU of the inventory: its remaining stock and fixed attributes. The entry
// also interns the SKU string, so carts refer to it without allocating.
type skuEntry struct {
	sku         string
	available   atomic.Int64
	weightGrams int64
}

// reserve takes qty units from stock if that many are available.
func (e *skuEntry) reserve(qty int64) bool {
	for {
		a := e.available.Load()
		if a < qty {
			return false
		}
		if e.available.CompareAndSwap(a, a-qty) {
			return true
		}
	}
}

// release gives qty units back to stock.
func (e *skuEntry) release(qty int64) {
	if qty > 0 {
		e.available.Add(qty)
	}
}

const invParts = 32

// inventory is the shard's finite per-SKU stock. SKUs appear on first use with the
// configured initial stock.
type inventory struct {
	initial int64
	count   atomic.Int64
	parts   [invParts]struct {
		mu sync.RWMutex
		m  map[string]*skuEntry
	}
}

func newInventory(initial int64) *inventory {
	inv := &inventory{initial: initial}
	for i := range inv.parts {
		inv.parts[i].m = make(map[string]*skuEntry)
	}
	return inv
}

// fnv1a hashes b (FNV-1a, 64 bit).
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// skuWeightGrams is the deterministic shipping weight of a SKU: 100 g .. 5 kg.
func skuWeightGrams(sku []byte) int64 {
	return 100 + int64(fnv1a(sku)>>11)%4901
}

// entry returns the entry for sku, creating it with the initial stock. It returns nil when
// the catalog is full and sku is new.
func (inv *inventory) entry(sku []byte) *skuEntry {
	p := &inv.parts[fnv1a(sku)%invParts]
	p.mu.RLock()
	e := p.m[string(sku)]
	p.mu.RUnlock()
	if e != nil {
		return e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e = p.m[string(sku)]; e != nil {
		return e
	}
	if inv.count.Load() >= maxSKUs {
		return nil
	}
	e = &skuEntry{sku: string(sku), weightGrams: skuWeightGrams(sku)}
	e.available.Store(inv.initial)
	p.m[e.sku] = e
	inv.count.Add(1)
	return e
}

// available reports the stock of sku without adding it to the catalog.
func (inv *inventory) available(sku []byte) int64 {
	p := &inv.parts[fnv1a(sku)%invParts]
	p.mu.RLock()
	e := p.m[string(sku)]
	p.mu.RUnlock()
	if e == nil {
		return inv.initial
	}
	return e.available.Load()
}
