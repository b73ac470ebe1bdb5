package profiles

import "testing"

// TestYAMLSyntaxErrorPosition: a YAML syntax error is reported at the line
// and column of the problem, not at the line where the enclosing construct
// began (go.yaml.in/yaml/v3's own "line N").
func TestYAMLSyntaxErrorPosition(t *testing.T) {
	for _, c := range []struct {
		name, src, pos, msg string
	}{
		{"tab on line 4", "name: x\nworkload:\n  model: closed\n\tagents: 3\n", "t.yaml:4:1:", "a tab character"},
		{"unclosed { on line 3", "name: x\nworkload:\n  model: {closed\n  agents: 3\n", "t.yaml:3:11:", "invalid YAML"},
		{"unclosed quote on line 3", "name: x\nworkload:\n  model: \"closed\n  agents: 3\n", "t.yaml:3:10:", "double-quoted"},
		{"mapping in a list on line 4", "name: x\nflows:\n  - a\n  b: 2\n", "t.yaml:4:3:", "invalid YAML"},
		{"unclosed [ on line 2", "name: x\nwork: [1, 2\nz: 1\n", "t.yaml:3:1:", "']'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			les := loadErrs(t, c.src)
			if len(les) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(les), les)
			}
			wantErr(t, les, c.pos, c.msg)
		})
	}
}
