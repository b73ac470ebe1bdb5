package profiles

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Named targets: targets: {auth: URL, shop: {url: URL, tls: {...}}} names
// further hosts a step may send to with target: NAME; a step without one
// goes to the profile's target:. Each agent keeps one connection per host
// it has sent to, opened on first use.

// NamedTarget is one host of targets:.
type NamedTarget struct {
	// Name is the key in targets:, URL its base URL, TLS how it is spoken to.
	Name string
	URL  string
	TLS  TLS
}

// targets reads targets: into the profile, sorted by name.
func (l *loader) targets(n *yaml.Node) {
	for _, kv := range l.pairs(n, "targets", "a map of host name to base URL") {
		name, v := kv[0].Value, kv[1]
		if !validVarName(name) {
			l.errf(kv[0], "e.g. auth or shop", "targets: %q is not a name; expected letters, digits and _", name)
			continue
		}
		nt := NamedTarget{Name: name}
		what := "targets." + name
		switch v.Kind {
		case yaml.ScalarNode:
			if !l.baseURL(v, what) {
				continue
			}
			nt.URL = v.Value
		case yaml.MappingNode:
			f := l.fields(v, what, []string{"url", "tls"})
			u := f["url"]
			if u == nil {
				l.errf(v, "e.g. url: https://auth.shop.example", "%s: missing url:", what)
				continue
			}
			if !l.baseURL(u, what+".url") {
				continue
			}
			nt.URL = u.Value
			if t := f["tls"]; t != nil {
				l.tls(t, &nt.TLS)
			}
		default:
			l.errf(v, "", "%s: expected a base URL or {url: URL, tls: {...}}; got %s", what, kindName(v))
			continue
		}
		nt.URL = strings.TrimSuffix(nt.URL, "/")
		l.p.Targets = append(l.p.Targets, nt)
	}
	sort.Slice(l.p.Targets, func(i, j int) bool { return l.p.Targets[i].Name < l.p.Targets[j].Name })
}

// stepTarget reads a step's target: NAME into s.TargetID.
func (l *loader) stepTarget(n *yaml.Node, s *Step, what string) {
	name, ok := l.str(n, what+" target")
	if !ok {
		return
	}
	names := make([]string, len(l.p.Targets))
	for i, t := range l.p.Targets {
		if t.Name == name {
			s.TargetID = i + 1
			return
		}
		names[i] = t.Name
	}
	if len(names) == 0 {
		l.errf(n, "add targets: {"+name+": https://...} at the top of the profile", "%s: target %q is not in targets:; the profile names no targets", what, name)
		return
	}
	l.errf(n, didYouMean(name, names), "%s: target %q is not in targets:; expected one of %s", what, name, strings.Join(names, ", "))
}
