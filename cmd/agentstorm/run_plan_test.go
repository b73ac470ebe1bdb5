package main

import (
	"math/rand/v2"
	"testing"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/target"
)

// TestBundledShardsOfTheDefaultStorm: the default storm's 50,000 agents get one shard per
// region and more for the big regions, and however the agents' regions fall (drawn as
// agents draw them, several seeds), no shard is sent more connections than its cap.
func TestBundledShardsOfTheDefaultStorm(t *testing.T) {
	prof, err := profiles.Builtin("agent-storm")
	if err != nil {
		t.Fatal(err)
	}
	regions := prof.Population.Regions()
	shards := bundledShards(prof)
	if shards < len(regions) || shards > 6 {
		t.Fatalf("%d shards for %d regions", shards, len(regions))
	}
	if shardConns >= target.DefaultMaxConns {
		t.Fatalf("shards are planned for %d connections, at or over their cap of %d", shardConns, target.DefaultMaxConns)
	}
	agents := prof.Workload.Peak()
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 99))
		perRegion := make([]int, len(regions))
		for range agents {
			r, _ := prof.Population.PickRegion(rng)
			perRegion[r]++
		}
		for r, n := range perRegion {
			of := shards / len(regions)
			if r < shards%len(regions) {
				of++
			}
			if per := (n + of - 1) / of; per > target.DefaultMaxConns {
				t.Fatalf("seed %d: region %s: %d agents on %d shards, %d a shard, over the cap of %d", seed, regions[r], n, of, per, target.DefaultMaxConns)
			}
		}
	}
}
