package target

import (
	"strconv"
	"time"
)

// appendOrderJSON appends r's JSON: the fields encoding/json writes for orderRecord, in the
// same order, so that appendJSONHead and decideOrder's splice hold for it. Where no string
// needs escaping it is byte for byte what json.Marshal writes; otherwise a few characters are
// escaped differently and it decodes to the same record. The committer encodes every
// accepted order, and json.Marshal's reflection and allocations were 2% of a storm's shard.
func appendOrderJSON(dst []byte, r *orderRecord) []byte {
	dst = append(dst, `{"order_id":`...)
	dst = appendJSONString(dst, r.ID)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, r.Status)
	dst = append(dst, `,"cart_id":`...)
	dst = appendJSONString(dst, r.CartID)
	dst = append(dst, `,"items":`...)
	if r.Items == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, it := range r.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"sku":`...)
			dst = appendJSONString(dst, it.SKU)
			dst = append(dst, `,"qty":`...)
			dst = strconv.AppendInt(dst, it.Qty, 10)
			dst = append(dst, `,"preorder_qty":`...)
			dst = strconv.AppendInt(dst, it.PreorderQty, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"destination":`...)
	dst = appendJSONString(dst, r.Destination)
	dst = append(dst, `,"carrier":`...)
	dst = appendJSONString(dst, r.Carrier)
	dst = append(dst, `,"speed":`...)
	dst = appendJSONString(dst, r.Speed)
	dst = append(dst, `,"shipping_cents":`...)
	dst = strconv.AppendInt(dst, r.ShippingCents, 10)
	dst = append(dst, `,"preorder":`...)
	dst = strconv.AppendBool(dst, r.Preorder)
	dst = append(dst, `,"idempotency_key":`...)
	dst = appendJSONString(dst, r.IdempotencyKey)
	dst = append(dst, `,"accepted_at":`...)
	dst = appendJSONTime(dst, r.AcceptedAt)
	if r.CreatedAt != nil {
		dst = append(dst, `,"created_at":`...)
		dst = appendJSONTime(dst, *r.CreatedAt)
	}
	if r.RejectedAt != nil {
		dst = append(dst, `,"rejected_at":`...)
		dst = appendJSONTime(dst, *r.RejectedAt)
	}
	if r.RejectReason != "" {
		dst = append(dst, `,"reject_reason":`...)
		dst = appendJSONString(dst, r.RejectReason)
	}
	return append(dst, '}')
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it (RFC 3339, nanoseconds
// without trailing zeros), for the years 0 to 9999 it accepts; the order store's times are
// clock readings.
func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
