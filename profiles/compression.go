package profiles

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Compression: compression: (for the whole profile, or per step, the
// step's winning) asks for compressed answers: gzip, br, deflate or zstd,
// or a list of them, sent as the request's Accept-Encoding; none (or
// false) asks for none. A step with its own Accept-Encoding header keeps
// it. Whatever was asked, the swarm decodes an answer's Content-Encoding
// before checks and captures see its body.

// codings are the content codings the swarm decodes.
var codings = []string{"gzip", "br", "deflate", "zstd"}

// compression reads a compression: value into the Accept-Encoding value it
// sends ("" for none).
func (l *loader) compression(n *yaml.Node, what string) (string, bool) {
	var names []string
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "none" || (n.Tag == "!!bool" && strings.EqualFold(n.Value, "false")) {
			return "", true
		}
		names = []string{n.Value}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			s, ok := l.str(c, what)
			if !ok {
				return "", false
			}
			names = append(names, s)
		}
	default:
		l.errf(n, "e.g. compression: gzip or compression: [gzip, br]", "%s: expected a coding or a list of them; got %s", what, kindName(n))
		return "", false
	}
	for _, c := range names {
		if !contains(codings, c) {
			l.errf(n, didYouMean(c, codings), "%s: %q is not a coding agentstorm decodes; expected %s or none", what, c, strings.Join(codings, ", "))
			return "", false
		}
	}
	return strings.Join(names, ", "), true
}

// stepCompression reads a step's compression: into s.
func (l *loader) stepCompression(n *yaml.Node, s *Step, what string) {
	if v, ok := l.compression(n, what+" compression"); ok {
		s.Compression, s.compressionSet = v, true
	}
}

// applyCompression gives every step without its own compression: the
// profile's, and sends each step's as an Accept-Encoding header unless the
// step has its own.
func (l *loader) applyCompression(profileValue string) {
	for _, f := range l.p.Flows {
		for _, s := range f.Steps {
			if !s.compressionSet {
				s.Compression = profileValue
			}
			if s.Compression == "" || s.hasHeader("Accept-Encoding") {
				continue
			}
			t, _ := compileTemplate(s.Compression, escHeader, l, nil)
			s.tmpl.headers = append(s.tmpl.headers, headerTemplate{name: []byte("Accept-Encoding: "), val: t})
		}
	}
}

// hasHeader reports whether the step sends a header of that name.
func (s *Step) hasHeader(name string) bool {
	for _, h := range s.tmpl.headers {
		if strings.EqualFold(strings.TrimSuffix(string(h.name), ": "), name) {
			return true
		}
	}
	return false
}
