package target

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

var (
	contentTypeJSON = []byte("application/json")
	headerIdemKey   = []byte("Idempotency-Key")
	bearerPrefix    = []byte("Bearer ")
)

// handle is the shard's fasthttp handler (the goroutine server): it applies chaos latency,
// then serves.
func (s *Shard) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if !bytes.HasPrefix(path, []byte("/internal/")) {
		if d := s.chaos.Load().delay(path); d > 0 {
			// fasthttp serves each connection on its own goroutine, so sleeping holds only
			// this connection, as a slow upstream would.
			time.Sleep(d)
		}
	}
	s.serve(ctx)
}

// serve routes one request, answers it and counts it (the chaos delay is the caller's).
func (s *Shard) serve(ctx *fasthttp.RequestCtx) {
	r := s.route(ctx, ctx.Path())
	s.metrics.count(r, ctx.Response.StatusCode())
}

// route dispatches on the path and method and returns the route for metrics.
func (s *Shard) route(ctx *fasthttp.RequestCtx, path []byte) route {
	const (
		carts     = "/v1/carts"
		cartsS    = "/v1/carts/"
		inventory = "/v1/inventory/"
		orders    = "/v1/orders/"
	)
	switch {
	case bytes.HasPrefix(path, []byte(cartsS)):
		rest := path[len(cartsS):]
		slash := bytes.IndexByte(rest, '/')
		if slash < 0 {
			if s.method(ctx, "GET", "/v1/carts/{cart_id}") {
				s.getCart(ctx, rest)
			}
			return routeGetCart
		}
		id, tail := rest[:slash], rest[slash:]
		switch {
		case string(tail) == "/items":
			if s.method(ctx, "POST", "/v1/carts/{cart_id}/items") {
				s.addItem(ctx, id)
			}
			return routeAddItem
		case bytes.HasPrefix(tail, []byte("/items/")):
			if s.method(ctx, "DELETE", "/v1/carts/{cart_id}/items/{sku}") {
				s.removeItem(ctx, id, tail[len("/items/"):])
			}
			return routeRemoveItem
		case string(tail) == "/checkout":
			if s.method(ctx, "POST", "/v1/carts/{cart_id}/checkout") {
				s.checkout(ctx, id)
			}
			return routeCheckout
		}
	case string(path) == carts:
		if s.method(ctx, "POST", carts) {
			s.createCart(ctx)
		}
		return routeCreateCart
	case bytes.HasPrefix(path, []byte(inventory)):
		if s.method(ctx, "GET", "/v1/inventory/{sku}") {
			s.getInventory(ctx, path[len(inventory):])
		}
		return routeInventory
	case string(path) == "/v1/shipping/quotes":
		if s.method(ctx, "POST", "/v1/shipping/quotes") {
			s.quotes(ctx)
		}
		return routeQuotes
	case bytes.HasPrefix(path, []byte(orders)):
		if s.method(ctx, "GET", "/v1/orders/{order_id}") {
			s.getOrder(ctx, path[len(orders):])
		}
		return routeOrder
	case string(path) == "/healthz":
		if s.method(ctx, "GET", "/healthz") {
			s.healthz(ctx)
		}
		return routeHealthz
	case string(path) == "/metrics":
		if s.method(ctx, "GET", "/metrics") {
			s.metrics.handler(ctx)
		}
		return routeMetrics
	case string(path) == "/internal/chaos":
		s.chaosEndpoint(ctx)
		return routeChaos
	}
	s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("no route for %s %s", ctx.Method(), path))
	return routeUnknown
}

// method answers 405 unless the request's method is want (HEAD counts as GET).
func (s *Shard) method(ctx *fasthttp.RequestCtx, want, pattern string) bool {
	m := ctx.Method()
	if string(m) == want || (want == "GET" && string(m) == "HEAD") {
		return true
	}
	ctx.Response.Header.Set("Allow", want)
	s.writeError(ctx, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use %s", m, pattern, want))
	return false
}

// writeError answers status with {"error": msg}.
func (s *Shard) writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	buf := s.getBuf()
	b := append((*buf)[:0], `{"error":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}\n"...)
	s.finish(ctx, status, buf, b)
}

// finish sends b (built in the pooled buf) as a JSON answer and returns buf to the pool.
func (s *Shard) finish(ctx *fasthttp.RequestCtx, status int, buf *[]byte, b []byte) {
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(b)
	*buf = b
	s.putBuf(buf)
}

func (s *Shard) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Shard) putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		s.bufs.Put(b)
	}
}

// handleServerError answers requests fasthttp could not read.
func (s *Shard) handleServerError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.writeRequestError(ctx, fasthttp.StatusRequestEntityTooLarge, "")
	case errors.As(err, &small):
		s.writeRequestError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "")
	default:
		s.writeRequestError(ctx, fasthttp.StatusBadRequest, err.Error())
	}
}

// writeRequestError answers a request that could not be read: 413 (body over
// MaxBodySize), 431 (header over the read buffer) or 400 with detail saying why.
func (s *Shard) writeRequestError(ctx *fasthttp.RequestCtx, status int, detail string) {
	switch status {
	case fasthttp.StatusRequestEntityTooLarge:
		s.writeError(ctx, status, fmt.Sprintf("request body is over the limit of %d bytes", MaxBodySize))
	case fasthttp.StatusRequestHeaderFieldsTooLarge:
		s.writeError(ctx, status, fmt.Sprintf("request headers are over the limit of %d bytes", readBufferSize))
	default:
		s.writeError(ctx, status, "malformed HTTP request: "+detail)
	}
}

// parseID parses "<kind><shard>-<n>" (kind 'c' for carts, 'o' for orders) and checks that
// it belongs to this shard. On failure it answers 404 and returns false.
func (s *Shard) parseID(ctx *fasthttp.RequestCtx, id []byte, kind byte, noun string) (uint64, bool) {
	fail := func(why string) (uint64, bool) {
		s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("unknown %s %q: %s", noun, id, why))
		return 0, false
	}
	if len(id) < 4 || id[0] != kind {
		return fail(fmt.Sprintf("%s ids look like %c%d-123", noun, kind, s.cfg.ID))
	}
	dash := bytes.IndexByte(id, '-')
	if dash < 2 {
		return fail(fmt.Sprintf("%s ids look like %c%d-123", noun, kind, s.cfg.ID))
	}
	shard, ok := parseUint(id[1:dash])
	if !ok {
		return fail(fmt.Sprintf("%s ids look like %c%d-123", noun, kind, s.cfg.ID))
	}
	if shard != uint64(s.cfg.ID) {
		return fail(fmt.Sprintf("it belongs to shard %d, this is shard %d (%s)", shard, s.cfg.ID, s.cfg.Region))
	}
	n, ok := parseUint(id[dash+1:])
	if !ok {
		return fail(fmt.Sprintf("%s ids look like %c%d-123", noun, kind, s.cfg.ID))
	}
	return n, true
}

// parseUint parses 1..19 decimal digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// lookupCart resolves a cart id, answering 404 if it is unknown.
func (s *Shard) lookupCart(ctx *fasthttp.RequestCtx, id []byte) *cart {
	n, ok := s.parseID(ctx, id, 'c', "cart")
	if !ok {
		return nil
	}
	c := s.carts.get(n)
	if c == nil {
		s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("unknown cart %q: no such cart on shard %d (carts live in memory and are gone after a restart)", id, s.cfg.ID))
	}
	return c
}

func (s *Shard) getDecoder() *decoder  { return s.decs.Get().(*decoder) }
func (s *Shard) putDecoder(d *decoder) { d.vals = [4]*fastjson.Value{}; s.decs.Put(d) }

// createCart serves POST /v1/carts.
func (s *Shard) createCart(ctx *fasthttp.RequestCtx) {
	d := s.getDecoder()
	req, rerr := d.decodeCreateCart(ctx.PostBody())
	s.putDecoder(d)
	if rerr != nil {
		s.writeError(ctx, rerr.status, rerr.msg)
		return
	}
	c := s.carts.create(req.customerID, req.region)
	buf := s.getBuf()
	b := append((*buf)[:0], `{"cart_id":"`...)
	b = s.appendCartID(b, c.num)
	b = append(b, `","shard":`...)
	b = strconv.AppendInt(b, int64(s.cfg.ID), 10)
	b = append(b, `,"region":`...)
	b = appendJSONString(b, s.cfg.Region)
	b = append(b, `,"customer_id":`...)
	b = appendJSONString(b, c.customer)
	b = append(b, "}\n"...)
	s.finish(ctx, fasthttp.StatusCreated, buf, b)
}

func (s *Shard) appendCartID(b []byte, n uint64) []byte {
	b = append(b, s.cartPrefix...)
	return strconv.AppendUint(b, n, 10)
}

// Cart modes of add-to-cart answers.
const (
	modeInStock  = "in_stock"
	modePreorder = "preorder"
)

// appendCart renders c (caller holds c.mu) with the given mode.
func (s *Shard) appendCart(b []byte, c *cart, mode string) []byte {
	b = append(b, `{"cart_id":"`...)
	b = s.appendCartID(b, c.num)
	b = append(b, `","shard":`...)
	b = strconv.AppendInt(b, int64(s.cfg.ID), 10)
	b = append(b, `,"mode":"`...)
	b = append(b, mode...)
	b = append(b, `","items":[`...)
	var total int64
	for i := range c.items {
		it := &c.items[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku":`...)
		b = appendJSONString(b, it.e.sku)
		b = append(b, `,"qty":`...)
		b = strconv.AppendInt(b, it.qty, 10)
		b = append(b, `,"preorder_qty":`...)
		b = strconv.AppendInt(b, it.qty-it.reserved, 10)
		b = append(b, '}')
		total += it.qty
	}
	b = append(b, `],"total_qty":`...)
	b = strconv.AppendInt(b, total, 10)
	return append(b, "}\n"...)
}

// cartMode is "preorder" if any unit in c is pre-ordered. Callers hold c.mu.
func cartMode(c *cart) string {
	for i := range c.items {
		if c.items[i].reserved < c.items[i].qty {
			return modePreorder
		}
	}
	return modeInStock
}

// getCart serves GET /v1/carts/{cart_id}.
func (s *Shard) getCart(ctx *fasthttp.RequestCtx, id []byte) {
	c := s.lookupCart(ctx, id)
	if c == nil {
		return
	}
	buf := s.getBuf()
	c.mu.Lock()
	b := s.appendCart((*buf)[:0], c, cartMode(c))
	c.mu.Unlock()
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// addItem serves POST /v1/carts/{cart_id}/items, the hot path: no allocation in steady
// state. Stock is reserved if available and inventory is up; otherwise the units are
// pre-ordered and the answer says mode "preorder".
func (s *Shard) addItem(ctx *fasthttp.RequestCtx, id []byte) {
	c := s.lookupCart(ctx, id)
	if c == nil {
		return
	}
	d := s.getDecoder()
	sku, qty, rerr := d.decodeAddItem(ctx.PostBody())
	if rerr != nil {
		s.putDecoder(d)
		s.writeError(ctx, rerr.status, rerr.msg)
		return
	}
	e := s.inv.entry(sku)
	s.putDecoder(d)
	if e == nil {
		s.writeError(ctx, fasthttp.StatusConflict, fmt.Sprintf("inventory catalog of shard %d is full (%d SKUs); use fewer distinct SKUs", s.cfg.ID, maxSKUs))
		return
	}
	var reserved int64
	mode := modePreorder
	if !s.chaos.Load().state.InventoryFailed && e.reserve(qty) {
		reserved, mode = qty, modeInStock
	}
	buf := s.getBuf()
	c.mu.Lock()
	i := 0
	for i < len(c.items) && c.items[i].e != e {
		i++
	}
	if i == len(c.items) {
		if len(c.items) >= maxCartItems {
			c.mu.Unlock()
			e.release(reserved)
			s.putBuf(buf)
			s.writeError(ctx, fasthttp.StatusConflict, fmt.Sprintf("cart %s is full: at most %d different SKUs", id, maxCartItems))
			return
		}
		c.items = append(c.items, cartItem{e: e})
	}
	c.items[i].qty += qty
	c.items[i].reserved += reserved
	b := s.appendCart((*buf)[:0], c, mode)
	c.mu.Unlock()
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// removeItem serves DELETE /v1/carts/{cart_id}/items/{sku}; reserved stock goes back.
func (s *Shard) removeItem(ctx *fasthttp.RequestCtx, id, sku []byte) {
	c := s.lookupCart(ctx, id)
	if c == nil {
		return
	}
	if !validSKU(sku) {
		s.writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("sku %q in the path must be %s", sku, skuRule))
		return
	}
	buf := s.getBuf()
	c.mu.Lock()
	i := 0
	for i < len(c.items) && c.items[i].e.sku != string(sku) {
		i++
	}
	if i == len(c.items) {
		c.mu.Unlock()
		s.putBuf(buf)
		s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("sku %q is not in cart %s", sku, id))
		return
	}
	c.items[i].e.release(c.items[i].reserved)
	c.items = append(c.items[:i], c.items[i+1:]...)
	b := s.appendCart((*buf)[:0], c, cartMode(c))
	c.mu.Unlock()
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// getInventory serves GET /v1/inventory/{sku}. With inventory failed it still answers 200,
// with available 0 and degraded true.
func (s *Shard) getInventory(ctx *fasthttp.RequestCtx, sku []byte) {
	if !validSKU(sku) {
		s.writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("sku %q in the path must be %s", sku, skuRule))
		return
	}
	failed := s.chaos.Load().state.InventoryFailed
	avail := int64(0)
	if !failed {
		avail = s.inv.available(sku)
	}
	buf := s.getBuf()
	b := append((*buf)[:0], `{"sku":`...)
	b = appendJSONString(b, string(sku))
	b = append(b, `,"available":`...)
	b = strconv.AppendInt(b, avail, 10)
	b = append(b, `,"degraded":`...)
	b = strconv.AppendBool(b, failed)
	b = append(b, `,"mode":"`...)
	if failed || avail <= 0 {
		b = append(b, modePreorder...)
	} else {
		b = append(b, modeInStock...)
	}
	b = append(b, "\"}\n"...)
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// cartWeight sums the shipping weight of c. Callers hold c.mu.
func cartWeight(c *cart) int64 {
	var w int64
	for i := range c.items {
		w += c.items[i].e.weightGrams * c.items[i].qty
	}
	return w
}

// quotes serves POST /v1/shipping/quotes: a price and ETA for every permutation of
// destination, carrier and speed, from the deterministic rate model.
func (s *Shard) quotes(ctx *fasthttp.RequestCtx) {
	d := s.getDecoder()
	req, rerr := d.decodeQuotes(ctx.PostBody())
	s.putDecoder(d)
	if rerr != nil {
		s.writeError(ctx, rerr.status, rerr.msg)
		return
	}
	c := s.lookupCart(ctx, []byte(req.cartID))
	if c == nil {
		return
	}
	c.mu.Lock()
	w := cartWeight(c)
	c.mu.Unlock()
	buf := s.getBuf()
	b := append((*buf)[:0], `{"cart_id":`...)
	b = appendJSONString(b, req.cartID)
	b = append(b, `,"weight_grams":`...)
	b = strconv.AppendInt(b, w, 10)
	b = append(b, `,"currency":"USD","quotes":[`...)
	first := true
	for _, dest := range req.destinations {
		for _, car := range req.carriers {
			for _, sp := range req.speeds {
				q := rateQuote(s.cfg.Region, w, dest, car, sp)
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, `{"destination":`...)
				b = appendJSONString(b, q.destination)
				b = append(b, `,"carrier":"`...)
				b = append(b, q.carrier...)
				b = append(b, `","speed":"`...)
				b = append(b, q.speed...)
				b = append(b, `","zone":`...)
				b = strconv.AppendInt(b, int64(q.zone), 10)
				b = append(b, `,"price_cents":`...)
				b = strconv.AppendInt(b, q.priceCents, 10)
				b = append(b, `,"eta_days":`...)
				b = strconv.AppendInt(b, int64(q.etaDays), 10)
				b = append(b, '}')
			}
		}
	}
	b = append(b, "]}\n"...)
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// getOrder serves GET /v1/orders/{order_id}.
func (s *Shard) getOrder(ctx *fasthttp.RequestCtx, id []byte) {
	n, ok := s.parseID(ctx, id, 'o', "order")
	if !ok {
		return
	}
	buf := s.getBuf()
	b, found, err := s.store.appendJSON((*buf)[:0], n)
	switch {
	case err != nil:
		s.putBuf(buf)
		s.writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
	case !found:
		s.putBuf(buf)
		s.writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("unknown order %q: no such order on shard %d", id, s.cfg.ID))
	default:
		s.finish(ctx, fasthttp.StatusOK, buf, append(b, '\n'))
	}
}

// healthz serves GET /healthz.
func (s *Shard) healthz(ctx *fasthttp.RequestCtx) {
	buf := s.getBuf()
	b := append((*buf)[:0], `{"status":"ok","shard":`...)
	b = strconv.AppendInt(b, int64(s.cfg.ID), 10)
	b = append(b, `,"region":`...)
	b = appendJSONString(b, s.cfg.Region)
	b = append(b, "}\n"...)
	s.finish(ctx, fasthttp.StatusOK, buf, b)
}

// chaosEndpoint serves /internal/chaos: POST replaces the chaos state (204), GET returns it.
// Both need "Authorization: Bearer <ControlToken>".
func (s *Shard) chaosEndpoint(ctx *fasthttp.RequestCtx) {
	if s.cfg.ControlToken == "" {
		s.writeError(ctx, fasthttp.StatusNotFound, "chaos control is disabled on this shard (no control token)")
		return
	}
	auth := ctx.Request.Header.Peek("Authorization")
	tok, ok := bytes.CutPrefix(auth, bearerPrefix)
	if !ok || subtle.ConstantTimeCompare(tok, []byte(s.cfg.ControlToken)) != 1 {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="agentstorm-target"`)
		s.writeError(ctx, fasthttp.StatusUnauthorized, "missing or wrong bearer token for /internal/chaos")
		return
	}
	switch string(ctx.Method()) {
	case "GET":
		data, err := json.Marshal(s.Chaos())
		if err != nil {
			s.writeError(ctx, fasthttp.StatusInternalServerError, fmt.Sprintf("encode chaos state: %v", err))
			return
		}
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
		ctx.SetBody(append(data, '\n'))
	case "POST":
		c, err := decodeChaos(ctx.PostBody())
		if err != nil {
			s.writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		s.setChaos(c)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	default:
		ctx.Response.Header.Set("Allow", "GET, POST")
		s.writeError(ctx, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /internal/chaos; use GET or POST", ctx.Method()))
	}
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
