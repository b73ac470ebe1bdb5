// Package target is the bundled reference checkout that agentstorm storms run against out of
// the box. One Shard is one process's worth of the checkout: an HTTP/1.1 server (fasthttp) with
// in-memory carts, a finite per-SKU inventory, a deterministic shipping rate model, and a durable
// order queue in bbolt that accepts checkouts with group commit (one fsync per burst) and turns
// them into created orders at a fixed rate (queue-based load levelling).
//
// A shard degrades gracefully under chaos (see ChaosState): with inventory failed, add-to-cart
// still answers 200 in pre-order mode; latency rules and a topology round trip delay answers;
// paused order workers leave checkouts queued. It survives running out of file descriptors by
// backing off in Accept instead of stopping, and it caps its open connections.
//
// The process supervisor that starts one shard process per region, kills and restores them and
// serves the chaos admin API lives in target/supervisor; it starts shards through RunShardMain.
package target
