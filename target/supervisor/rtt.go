package supervisor

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Topology names accepted by Config.Topology.
const (
	// TopologyEdge serves every region from its own shard and adds nothing.
	TopologyEdge = "edge"
	// TopologyCentral adds to every answer of a shard the round trip from its
	// region to a central origin in us-east, as if the edge forwarded every
	// request to one data centre.
	TopologyCentral = "central"
)

// OriginRegion is the region of the central origin in the central topology.
const OriginRegion = "us-east"

// originRTT is the published average round-trip time from a region to the
// us-east origin (AWS us-east-1, N. Virginia).
//
// Source: the AWS inter-region latency matrix "Latency Between AWS Global
// Regions" (average of pings between EC2 instances, the figures cloudping.co
// publishes today), as tabled in "AWS Regions",
// https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html:
// us-east-1 -> us-west-1 (N. California) 72.74 ms, -> us-west-2 (Oregon)
// 86.98 ms, -> eu-west-1 (Ireland) 80.55 ms, -> eu-central-1 (Frankfurt)
// 88.66 ms, -> ap-northeast-1 (Tokyo) 145.3 ms, -> ap-northeast-2 (Seoul)
// 178.4 ms, -> ap-southeast-1 (Singapore) 216.7 ms, -> ap-southeast-2
// (Sydney) 230 ms, -> sa-east-1 (São Paulo) 119.5 ms. Figures are rounded to
// the millisecond. Our short region names map to the AWS region named after
// them; "us-west" is taken as us-west-1 (N. California).
var originRTT = map[string]time.Duration{
	"us-east":        0,
	"us-east-1":      0,
	"us-west":        73 * time.Millisecond,
	"us-west-1":      73 * time.Millisecond,
	"us-west-2":      87 * time.Millisecond,
	"eu-west":        81 * time.Millisecond,
	"eu-west-1":      81 * time.Millisecond,
	"eu-central":     89 * time.Millisecond,
	"eu-central-1":   89 * time.Millisecond,
	"ap-tokyo":       145 * time.Millisecond,
	"ap-northeast-1": 145 * time.Millisecond,
	"ap-seoul":       178 * time.Millisecond,
	"ap-northeast-2": 178 * time.Millisecond,
	"ap-singapore":   217 * time.Millisecond,
	"ap-southeast-1": 217 * time.Millisecond,
	"ap-sydney":      230 * time.Millisecond,
	"ap-southeast-2": 230 * time.Millisecond,
	"sa-saopaulo":    120 * time.Millisecond,
	"sa-east-1":      120 * time.Millisecond,
}

// OriginRTT returns the published round-trip time from region to the central
// us-east origin, and an error naming the known regions when there is no
// published figure for it.
func OriginRTT(region string) (time.Duration, error) {
	d, ok := originRTT[region]
	if !ok {
		known := make([]string, 0, len(originRTT))
		for r := range originRTT {
			known = append(known, r)
		}
		sort.Strings(known)
		return 0, fmt.Errorf("no published round-trip time from region %q to the %s origin; known regions: %s",
			region, OriginRegion, strings.Join(known, ", "))
	}
	return d, nil
}

// extraRTT is the delay a shard of region adds under topology.
func extraRTT(topology, region string) (time.Duration, error) {
	switch topology {
	case TopologyEdge:
		return 0, nil
	case TopologyCentral:
		return OriginRTT(region)
	default:
		return 0, fmt.Errorf("unknown topology %q: want %q or %q", topology, TopologyEdge, TopologyCentral)
	}
}
