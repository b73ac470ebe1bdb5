package fleet

import (
	"testing"

	"github.com/agentstorm/agentstorm/profiles"
)

// TestAgentCapacityCountsHosts: an agent of a profile with targets: may
// hold a connection to each named host besides its target's, so a process
// holds that many times fewer agents, and a storm that fits one process
// with one host needs workers with three.
func TestAgentCapacityCountsHosts(t *testing.T) {
	load := func(targets string) *profiles.Profile {
		src := targets + `target: http://127.0.0.1:8
workload: {model: closed, stages: "0->12000 in 1s, hold 1s"}
flows:
  - name: f
    steps:
      - {name: s, method: GET, path: /x}
`
		p, err := profiles.Load("t.yaml", []byte(src), "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	one, three := load(""), load("targets: {auth: http://127.0.0.1:9, pay: http://127.0.0.1:10}\n")
	sockets, _ := Capacity()
	if got, _ := AgentCapacity(one); got != sockets {
		t.Errorf("one host: %d agents, want the %d sockets", got, sockets)
	}
	if got, _ := AgentCapacity(three); got != sockets/3 || SocketsPerAgent(three) != 3 {
		t.Errorf("three hosts: %d agents (%d sockets each), want %d", got, SocketsPerAgent(three), sockets/3)
	}
	if sockets < 14000 {
		t.Skipf("open-file limit gives %d sockets: too few for the worker count below", sockets)
	}
	c1, _ := AgentCapacity(one)
	c3, _ := AgentCapacity(three)
	if w1, w3 := WorkersFor(one, c1, 0), WorkersFor(three, c3, 0); w1 != 1 || w3 < 3 {
		t.Errorf("12,000 agents: %d processes with one host, %d with three; want 1 and at least 3", w1, w3)
	}
}
