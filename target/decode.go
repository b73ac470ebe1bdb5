package target

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Limits of request fields.
const (
	minQty         = 1
	maxQty         = 99
	maxSKULen      = 64
	maxIDLen       = 128 // customer ids, regions, idempotency keys
	maxListLen     = 50  // destinations, carriers, speeds in one quote request
	maxDestCodeLen = 16
)

// requestError is a client mistake; its message is sent as {"error": ...} with status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: 400, msg: fmt.Sprintf(format, args...)}
}

// decoder parses request bodies strictly with a reused fastjson parser. It is not safe for
// concurrent use; the shard pools them.
type decoder struct {
	p    fastjson.Parser
	vals [4]*fastjson.Value
	err  *requestError
	seen uint
}

// object parses body as one JSON object whose keys must all be in names (at most 4), storing
// each field's value in d.vals at the name's index; required is a bit mask of names that
// must be present.
func (d *decoder) object(body []byte, names []string, required uint) *requestError {
	d.vals = [4]*fastjson.Value{}
	d.err = nil
	d.seen = 0
	if len(body) == 0 {
		return badRequest("empty body: want a JSON object with fields %s", strings.Join(names, ", "))
	}
	// fastjson's parser is lenient in places (leading zeros, for one); its validator holds
	// the body to RFC 8259 (numbers, escapes, control characters in strings) in half the
	// time encoding/json's json.Valid takes.
	if err := fastjson.ValidateBytes(body); err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	v, err := d.p.ParseBytes(body)
	if err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	o, err := v.Object()
	if err != nil {
		return badRequest("body must be a JSON object, got %s", v.Type())
	}
	o.Visit(func(key []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		for i, n := range names {
			if string(key) == n {
				if d.seen&(1<<i) != 0 {
					d.err = badRequest("duplicate field %q", n)
					return
				}
				d.seen |= 1 << i
				d.vals[i] = v
				return
			}
		}
		d.err = badRequest("unknown field %q (allowed: %s)", key, strings.Join(names, ", "))
	})
	if d.err != nil {
		return d.err
	}
	for i, n := range names {
		if required&(1<<i) != 0 && d.seen&(1<<i) == 0 {
			return badRequest("missing field %q", n)
		}
	}
	return nil
}

// str returns field i as string bytes, checking its type.
func (d *decoder) str(i int, name string) ([]byte, *requestError) {
	b, err := d.vals[i].StringBytes()
	if err != nil {
		return nil, badRequest("field %q must be a string, got %s", name, d.vals[i].Type())
	}
	return b, nil
}

// text returns field i as a printable, non-empty string of at most max bytes.
func (d *decoder) text(i int, name string, max int) (string, *requestError) {
	b, rerr := d.str(i, name)
	if rerr != nil {
		return "", rerr
	}
	if err := checkText(b, max); err != nil {
		return "", badRequest("field %q: %v", name, err)
	}
	return string(b), nil
}

// name is text for a field whose value must be one of allowed: it returns that name.
func (d *decoder) name(i int, field string, allowed []string) (string, *requestError) {
	b, rerr := d.str(i, field)
	if rerr != nil {
		return "", rerr
	}
	if err := checkText(b, maxIDLen); err != nil {
		return "", badRequest("field %q: %v", field, err)
	}
	return knownName(field, -1, b, allowed)
}

// checkText accepts 1..max bytes of valid UTF-8 without control characters.
func checkText(b []byte, max int) error {
	if len(b) == 0 {
		return errors.New("must not be empty")
	}
	if len(b) > max {
		return fmt.Errorf("must be at most %d bytes, got %d", max, len(b))
	}
	if !utf8.Valid(b) {
		return errors.New("must be valid UTF-8")
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return errors.New("must not contain control characters")
		}
	}
	return nil
}

// validSKU reports whether sku is 1..64 bytes of A-Z a-z 0-9 . _ : -.
func validSKU(sku []byte) bool {
	if len(sku) == 0 || len(sku) > maxSKULen {
		return false
	}
	for _, c := range sku {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

const skuRule = "1..64 characters of A-Z a-z 0-9 . _ : -"

var addItemFields = []string{"sku", "qty"}

// decodeAddItem decodes {"sku": string, "qty": integer 1..99}. The returned sku aliases the
// decoder's memory and is valid until the next call.
func (d *decoder) decodeAddItem(body []byte) (sku []byte, qty int64, rerr *requestError) {
	if rerr = d.object(body, addItemFields, 0b11); rerr != nil {
		return nil, 0, rerr
	}
	if sku, rerr = d.str(0, "sku"); rerr != nil {
		return nil, 0, rerr
	}
	if !validSKU(sku) {
		return nil, 0, badRequest("field \"sku\" must be %s, got %q", skuRule, sku)
	}
	if d.vals[1].Type() != fastjson.TypeNumber {
		return nil, 0, badRequest("field \"qty\" must be an integer, got %s", d.vals[1].Type())
	}
	qty, err := d.vals[1].Int64()
	if err != nil {
		return nil, 0, badRequest("field \"qty\" must be an integer between %d and %d, got %s", minQty, maxQty, d.vals[1])
	}
	if qty < minQty || qty > maxQty {
		return nil, 0, badRequest("field \"qty\" must be between %d and %d, got %d", minQty, maxQty, qty)
	}
	return sku, qty, nil
}

var createCartFields = []string{"customer_id", "region"}

// createCartReq is the body of POST /v1/carts.
type createCartReq struct {
	customerID, region string
}

func (d *decoder) decodeCreateCart(body []byte) (r createCartReq, rerr *requestError) {
	if rerr = d.object(body, createCartFields, 0b11); rerr != nil {
		return r, rerr
	}
	if r.customerID, rerr = d.text(0, "customer_id", maxIDLen); rerr != nil {
		return r, rerr
	}
	if r.region, rerr = d.text(1, "region", maxIDLen); rerr != nil {
		return r, rerr
	}
	return r, nil
}

var checkoutFields = []string{"destination", "carrier", "speed"}

// shipChoice is a destination, carrier and speed, each validated against the rate model.
type shipChoice struct {
	destination, carrier, speed string
}

func (d *decoder) decodeCheckout(body []byte) (r shipChoice, rerr *requestError) {
	if rerr = d.object(body, checkoutFields, 0b111); rerr != nil {
		return r, rerr
	}
	if r.destination, rerr = d.text(0, "destination", maxDestCodeLen); rerr != nil {
		return r, rerr
	}
	if rerr = checkDestination("destination", -1, r.destination); rerr != nil {
		return r, rerr
	}
	if r.carrier, rerr = d.name(1, "carrier", carrierNames); rerr != nil {
		return r, rerr
	}
	r.speed, rerr = d.name(2, "speed", speedNames)
	return r, rerr
}

// checkDestination accepts a known destination code. field names the field, elem its list
// element (-1: not a list).
func checkDestination(field string, elem int, code string) *requestError {
	if _, ok := destinationPoint(code); !ok {
		return badRequest("%s %q is not a known destination: use a country code (US, CA, GB, DE, FR, JP, AU, ...) or a 5-digit US ZIP code", fieldLabel(field, elem), code)
	}
	return nil
}

// knownName returns the name of allowed that v spells (no copy of v), or an error naming the
// field and its list element (-1: not a list).
func knownName(field string, elem int, v []byte, allowed []string) (string, *requestError) {
	for _, a := range allowed {
		if string(v) == a {
			return a, nil
		}
	}
	return "", badRequest("%s %q is not known (one of: %s)", fieldLabel(field, elem), v, strings.Join(allowed, ", "))
}

// fieldLabel names a field, or its list element elem when elem >= 0: formatted only for an
// error, since a label per element was an allocation for every entry of every quote request.
func fieldLabel(field string, elem int) string {
	if elem < 0 {
		return field
	}
	return fmt.Sprintf("%s[%d]", field, elem)
}

var quotesFields = []string{"cart_id", "destinations", "carriers", "speeds"}

// quotesReq is the body of POST /v1/shipping/quotes.
type quotesReq struct {
	cartID                         string
	destinations, carriers, speeds []string
}

// decodeQuotes decodes {cart_id, destinations[], carriers[], speeds[]}; carriers and speeds
// are optional and default to all.
func (d *decoder) decodeQuotes(body []byte) (r quotesReq, rerr *requestError) {
	if rerr = d.object(body, quotesFields, 0b11); rerr != nil {
		return r, rerr
	}
	if r.cartID, rerr = d.text(0, "cart_id", maxIDLen); rerr != nil {
		return r, rerr
	}
	lists := []*[]string{&r.destinations, &r.carriers, &r.speeds}
	for i, dst := range lists {
		name := quotesFields[i+1]
		v := d.vals[i+1]
		if v == nil {
			continue
		}
		arr, err := v.Array()
		if err != nil {
			return r, badRequest("field %q must be an array of strings, got %s", name, v.Type())
		}
		if len(arr) == 0 && i == 0 {
			return r, badRequest("field %q must not be empty", name)
		}
		if len(arr) > maxListLen {
			return r, badRequest("field %q has %d entries, at most %d allowed", name, len(arr), maxListLen)
		}
		for j, e := range arr {
			b, err := e.StringBytes()
			if err != nil {
				return r, badRequest("%s[%d] must be a string, got %s", name, j, e.Type())
			}
			if err := checkText(b, maxIDLen); err != nil {
				return r, badRequest("%s[%d]: %v", name, j, err)
			}
			var s string
			switch i {
			case 0:
				s = string(b)
				rerr = checkDestination(name, j, s)
			case 1:
				s, rerr = knownName(name, j, b, carrierNames)
			case 2:
				s, rerr = knownName(name, j, b, speedNames)
			}
			if rerr != nil {
				return r, rerr
			}
			*dst = append(*dst, s)
		}
	}
	if len(r.carriers) == 0 {
		r.carriers = carrierNames
	}
	if len(r.speeds) == 0 {
		r.speeds = speedNames
	}
	return r, nil
}
