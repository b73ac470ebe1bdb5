package agents

import (
	"fmt"

	"github.com/agentstorm/agentstorm/profiles"
)

// Several hosts: a profile's targets: name further hosts, and a step's
// target: sends it to one of them. Such a profile runs on the goroutine
// transport (plain http too): each agent keeps one connection per host
// (hostConn), opened when a step first sends there, and switches to the
// step's host as the step begins. Source spreading, TLS and redirects
// apply per host; the cookie jar is the agent's, across its hosts, under
// RFC 6265's domain rules. Connections opened are counted per host
// (Stats.HostConnections).

// hostConn is one host of a multi-host agent: its endpoint, its
// connection and the answers read on it.
type hostConn struct {
	ep   *endpoint
	g    *goConn
	uses int
}

// parseNamedTargets resolves a profile's targets:, in its order.
func parseNamedTargets(ts []profiles.NamedTarget, insecure bool) ([]*endpoint, error) {
	var eps []*endpoint
	for _, t := range ts {
		ep, err := parseEndpoint(t.URL, insecure)
		if err == nil {
			err = ep.applyTLS(t.TLS, insecure)
		}
		if err != nil {
			return nil, fmt.Errorf("targets.%s: %w", t.Name, err)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// initHosts gives a multi-host agent its hosts: its own target first, then
// the profile's named targets.
func (a *agent) initHosts() {
	if len(a.s.named) == 0 {
		return
	}
	a.hosts = make([]hostConn, 1+len(a.s.named))
	a.hosts[0] = hostConn{ep: a.ep, g: a.g}
	for i, ep := range a.s.named {
		a.hosts[i+1] = hostConn{ep: ep, g: &goConn{}}
	}
}

// useHost makes host id (0: the agent's target, i+1: targets[i]) the one
// the agent's calls go to. Only between calls.
func (a *agent) useHost(id int) {
	if a.hosts == nil || id == a.hostID {
		return
	}
	a.hosts[a.hostID].uses = a.uses
	a.hostID = id
	h := &a.hosts[id]
	a.ep, a.g, a.uses = h.ep, h.g, h.uses
	a.c.PathPrefix = a.ep.prefix
}

// goConns returns the agent's goroutine-transport connections, for another
// goroutine to cut (Swarm.abort): a.g for a one-host agent, every host's
// for a multi-host one (a.g moves between them on the loop; the hosts
// slice is fixed at creation).
func (a *agent) goConns() []*goConn {
	if a.hosts == nil {
		if a.g == nil {
			return nil
		}
		return []*goConn{a.g}
	}
	out := make([]*goConn, len(a.hosts))
	for i := range a.hosts {
		out[i] = a.hosts[i].g
	}
	return out
}

// closeAllConns closes the agent's connections to every host.
func (a *agent) closeAllConns() {
	cur := a.hostID
	for i := range a.hosts {
		a.useHost(i)
		a.closeConn()
	}
	a.useHost(cur)
	a.closeConn()
}

// hostName names host id in reports.
func (s *Swarm) hostName(id int) string {
	if id == 0 {
		return "target"
	}
	return s.prof.Targets[id-1].Name
}
