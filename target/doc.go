// Package target is the bundled reference checkout that agentstorm storms run against out of
// the box. One Shard is one process's worth of the checkout: an HTTP/1.1 server with
// in-memory carts, a finite per-SKU inventory, a deterministic shipping rate model, and a durable
// order queue that accepts checkouts with group commit and turns them into created orders at a
// fixed rate (queue-based load levelling).
//
// The order queue is an append-only log per shard (OrderLogName in the shard's data dir; format
// in orderlog.go, ReadOrderLog reads it): a checkout's order is one CRC-checked record, written
// with the others of its batch in one write and one fdatasync before any of them is answered 202;
// the worker appends one record per order it creates or rejects, synced likewise. In memory a
// shard keeps only where each order's latest record is, the order number of each Idempotency-Key
// and the queue, all rebuilt by replaying the log at start: GET /v1/orders/{order_id} is one
// pread. A write cut short by a crash is cut off at start (and logged); a damaged record
// followed by valid ones stops the shard with an error naming the file and offset. A data dir
// holding the bbolt store of earlier versions (orders.bbolt) is refused: remove that file or use
// another data dir.
//
// On Linux a shard serves on epoll event loops (ServerLoop): every connection is a small state
// machine, requests are parsed and answered with fasthttp's Request and Response, and only the
// answers that wait are made off the loop: a checkout's by the order store's committer once
// its order is fdatasynced, an answer held by chaos latency (or a checkout waiting for another
// with its Idempotency-Key) on a goroutine. An idle keep-alive connection costs its socket and
// well under a KiB, not a parked goroutine and its buffers, which is what a storm of mostly
// idle agents needs. Elsewhere, or with ServerGoroutines, fasthttp's server runs a goroutine
// per connection.
//
// A shard degrades gracefully under chaos (see ChaosState): with inventory failed, add-to-cart
// still answers 200 in pre-order mode; latency rules and a topology round trip delay answers;
// paused order workers leave checkouts queued. It survives running out of file descriptors by
// backing off in Accept instead of stopping, and it caps its open connections (a JSON 503 over
// the cap).
//
// The process supervisor that starts one shard process per region, kills and restores them and
// serves the chaos admin API lives in target/supervisor; it starts shards through RunShardMain.
//
// # HTTP API of a shard
//
// Bodies are JSON. Unknown or duplicate fields, missing fields, wrong types and malformed JSON
// get 400 {"error": "..."} naming the field; bodies over 64 KiB get 413; a wrong method gets
// 405 with an Allow header; an unknown or mis-routed cart or order id gets 404.
//
//	POST   /v1/carts                         {"customer_id", "region"}
//	       201 {"cart_id": "c<shard>-<n>", "shard", "region", "customer_id"}
//	GET    /v1/carts/{cart_id}               200 cart
//	POST   /v1/carts/{cart_id}/items         {"sku": 1..64 of [A-Za-z0-9._:-], "qty": 1..99}
//	       200 cart: {"cart_id", "shard", "mode": "in_stock"|"preorder",
//	                  "items": [{"sku", "qty", "preorder_qty"}], "total_qty"}
//	DELETE /v1/carts/{cart_id}/items/{sku}   200 cart (reserved stock goes back)
//	GET    /v1/inventory/{sku}               200 {"sku", "available", "degraded", "mode"}
//	POST   /v1/shipping/quotes               {"cart_id", "destinations": [...],
//	                                          "carriers"?: [...], "speeds"?: [...]}
//	       200 {"cart_id", "weight_grams", "currency", "quotes": [{"destination", "carrier",
//	            "speed", "zone", "price_cents", "eta_days"}]} for every permutation
//	POST   /v1/carts/{cart_id}/checkout      {"destination", "carrier", "speed"}
//	       header Idempotency-Key (required, 1..128 bytes)
//	       202 {"order_id": "o<shard>-<n>", "status": "processing", "preorder",
//	            "shipping_cents"} once durable; a retried key answers 202 with the same
//	            order id, its current status and "replayed": true; a key reused for
//	            another cart or other shipping choices gets 422; an empty cart gets 409
//	GET    /v1/orders/{order_id}             200 {"order_id", "status": "processing"|
//	                                          "created"|"rejected", "items", ...}
//	GET    /healthz                          200 {"status": "ok", "shard", "region"}
//	GET    /metrics                          Prometheus text
//	GET|POST /internal/chaos                 ChaosState; Authorization: Bearer <ControlToken>
//
// Destinations are country codes (US, CA, MX, BR, GB, IE, FR, DE, ES, IT, NL, SE, PL, JP, KR,
// CN, IN, SG, AU, NZ, ZA, AE) or 5-digit US ZIP codes; carriers are dhl, fedex, ups, usps;
// speeds are economy, standard, express, overnight.
package target
