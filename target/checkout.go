package target

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"
)

// checkout serves POST /v1/carts/{cart_id}/checkout. The order is durable (appended to the
// order log with its Idempotency-Key and fdatasynced) before the 202 goes out; a retry with
// the same key gets the same order id and creates nothing. The cart's items move into the
// order.
func (s *Shard) checkout(ctx *fasthttp.RequestCtx, id []byte) {
	p, _ := s.beginCheckout(ctx, id, true)
	if p == nil {
		return
	}
	n, fresh, err := s.store.accept(p.key, p.rec)
	s.endCheckout(ctx, p, n, fresh, err)
}

// startCheckout serves a checkout without blocking, for an event loop. It returns false,
// having done nothing, for a request it leaves to serve on a goroutine: not a well-formed
// POST /v1/carts/{cart_id}/checkout, or one that must wait for another checkout with its
// Idempotency-Key. Otherwise done is called once ctx holds the answer (counted in the
// metrics): at once, or on the order store's committer once the order is durable. An
// event loop so waits for a commit without a goroutine per checkout, whose wake-ups cost
// more than the checkout's own work.
func (s *Shard) startCheckout(ctx *fasthttp.RequestCtx, done func()) bool {
	id, ok := checkoutCartID(ctx.Path())
	if !ok || string(ctx.Method()) != "POST" {
		return false
	}
	p, blocked := s.beginCheckout(ctx, id, false)
	switch {
	case blocked:
		return false
	case p == nil:
		s.metrics.count(routeCheckout, ctx.Response.StatusCode())
		done()
		return true
	}
	s.store.acceptAsync(p.key, p.rec, func(n uint64, fresh bool, err error) {
		s.endCheckout(ctx, p, n, fresh, err)
		s.metrics.count(routeCheckout, ctx.Response.StatusCode())
		done()
	})
	return true
}

// checkoutCartID returns the cart id of a checkout's path, as route matches it.
func checkoutCartID(path []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(path, []byte("/v1/carts/"))
	if !ok {
		return nil, false
	}
	id, tail, ok := bytes.Cut(rest, []byte("/"))
	return id, ok && string(tail) == "checkout"
}

// pendingCheckout is a checkout between beginCheckout and endCheckout: its cart's items
// taken into rec, its Idempotency-Key claimed.
type pendingCheckout struct {
	key    string
	choice shipChoice
	c      *cart
	taken  []cartItem
	rec    *orderRecord
}

// beginCheckout checks a checkout request, claims its Idempotency-Key and moves its cart's
// items into an order record. It returns nil when it answered ctx itself (an error, or a
// replay of a known key). A checkout whose key another checkout holds waits for it, unless
// !mayWait: then it returns blocked, having answered nothing.
func (s *Shard) beginCheckout(ctx *fasthttp.RequestCtx, id []byte, mayWait bool) (p *pendingCheckout, blocked bool) {
	cartNum, ok := s.parseID(ctx, id, 'c', "cart")
	if !ok {
		return nil, false
	}
	key := ctx.Request.Header.PeekBytes(headerIdemKey)
	if len(key) == 0 {
		s.writeError(ctx, fasthttp.StatusBadRequest, "missing Idempotency-Key header: send a unique key per checkout so a retry cannot order twice")
		return nil, false
	}
	if err := checkText(key, maxIDLen); err != nil {
		s.writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("Idempotency-Key header %v", err))
		return nil, false
	}
	keyStr := string(key)
	d := s.getDecoder()
	choice, rerr := d.decodeCheckout(ctx.PostBody())
	s.putDecoder(d)
	if rerr != nil {
		s.writeError(ctx, rerr.status, rerr.msg)
		return nil, false
	}
	// Checkouts with one key run one at a time: a concurrent retry waits for the first and
	// then finds its order.
	for {
		if n, found := s.store.lookupKey(keyStr); found {
			s.replayCheckout(ctx, n, string(id), choice)
			return nil, false
		}
		wait := s.claimKey(keyStr)
		if wait == nil {
			break
		}
		if !mayWait {
			return nil, true
		}
		<-wait
	}
	c := s.carts.get(cartNum)
	if c == nil {
		s.releaseKey(keyStr)
		s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("unknown cart %q: no such cart on shard %d (carts live in memory and are gone after a restart)", id, s.cfg.ID))
		return nil, false
	}
	// Move the items out of the cart into the order.
	c.mu.Lock()
	if len(c.items) == 0 {
		c.mu.Unlock()
		s.releaseKey(keyStr)
		s.writeError(ctx, fasthttp.StatusConflict, fmt.Sprintf("cart %s is empty: add items before checking out", id))
		return nil, false
	}
	taken := append([]cartItem(nil), c.items...)
	weight := cartWeight(c)
	c.items = c.items[:0]
	c.mu.Unlock()

	rec := &orderRecord{
		CartID:      string(id),
		Items:       make([]orderItem, len(taken)),
		Destination: choice.destination,
		Carrier:     choice.carrier,
		Speed:       choice.speed,
	}
	for i, it := range taken {
		rec.Items[i] = orderItem{SKU: it.e.sku, Qty: it.qty, PreorderQty: it.qty - it.reserved}
		rec.Preorder = rec.Preorder || it.reserved < it.qty
	}
	rec.ShippingCents = rateQuote(s.cfg.Region, weight, choice.destination, choice.carrier, choice.speed).priceCents
	return &pendingCheckout{key: keyStr, choice: choice, c: c, taken: taken, rec: rec}, false
}

// endCheckout answers a checkout with the order store's results (accept's) and lets go of
// its Idempotency-Key. An order not created gives its items back to the cart.
func (s *Shard) endCheckout(ctx *fasthttp.RequestCtx, p *pendingCheckout, n uint64, fresh bool, err error) {
	defer s.releaseKey(p.key)
	if err != nil || !fresh {
		putBack(p.c, p.taken)
	}
	if err != nil {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, fmt.Sprintf("order not accepted, retry with the same Idempotency-Key: %v", err))
		return
	}
	if !fresh {
		s.replayCheckout(ctx, n, p.rec.CartID, p.choice)
		return
	}
	buf := s.getBuf()
	b := s.store.appendJSONHead((*buf)[:0], n, StatusProcessing)
	b = append(b, `,"preorder":`...)
	b = strconv.AppendBool(b, p.rec.Preorder)
	b = append(b, `,"shipping_cents":`...)
	b = strconv.AppendInt(b, p.rec.ShippingCents, 10)
	b = append(b, "}\n"...)
	s.finish(ctx, fasthttp.StatusAccepted, buf, b)
}

// claimKey marks key as being checked out by the caller and returns nil, or returns a
// channel that is closed when the checkout holding the key finishes.
func (s *Shard) claimKey(key string) <-chan struct{} {
	s.inflightMu.Lock()
	defer s.inflightMu.Unlock()
	if ch, busy := s.inflight[key]; busy {
		return ch
	}
	s.inflight[key] = make(chan struct{})
	return nil
}

// releaseKey ends the caller's claim on key and wakes those waiting for it.
func (s *Shard) releaseKey(key string) {
	s.inflightMu.Lock()
	ch := s.inflight[key]
	delete(s.inflight, key)
	s.inflightMu.Unlock()
	close(ch)
}

// putBack merges items taken for an order that was not created back into the cart.
func putBack(c *cart, taken []cartItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range taken {
		i := 0
		for i < len(c.items) && c.items[i].e != t.e {
			i++
		}
		if i == len(c.items) {
			c.items = append(c.items, cartItem{e: t.e})
		}
		c.items[i].qty += t.qty
		c.items[i].reserved += t.reserved
	}
}

// replayCheckout answers a checkout retried with a known Idempotency-Key: 202 with the
// original order id and its current status. A key reused for another cart or other shipping
// choices is refused with 422, as Stripe-style APIs do: replaying the first order would
// silently leave the second cart unordered.
func (s *Shard) replayCheckout(ctx *fasthttp.RequestCtx, n uint64, cartID string, choice shipChoice) {
	rec, found, err := s.store.get(n)
	if err != nil || !found {
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, fmt.Sprintf("order %s of this Idempotency-Key cannot be read: %v", s.store.orderID(n), err))
		return
	}
	if rec.CartID != cartID || rec.Destination != choice.destination || rec.Carrier != choice.carrier || rec.Speed != choice.speed {
		s.writeError(ctx, fasthttp.StatusUnprocessableEntity, fmt.Sprintf(
			"Idempotency-Key %q was already used for order %s (cart %s, %s %s to %s); this request differs (cart %s, %s %s to %s): send a new key for a new checkout",
			rec.IdempotencyKey, rec.ID, rec.CartID, rec.Carrier, rec.Speed, rec.Destination, cartID, choice.carrier, choice.speed, choice.destination))
		return
	}
	buf := s.getBuf()
	b := append((*buf)[:0], `{"order_id":`...)
	b = appendJSONString(b, rec.ID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, rec.Status)
	b = append(b, `,"preorder":`...)
	b = strconv.AppendBool(b, rec.Preorder)
	b = append(b, `,"shipping_cents":`...)
	b = strconv.AppendInt(b, rec.ShippingCents, 10)
	b = append(b, `,"replayed":true}`+"\n"...)
	s.finish(ctx, fasthttp.StatusAccepted, buf, b)
}
