package profiles

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// DefaultBuiltin is the profile a run uses when none is named.
const DefaultBuiltin = "agent-storm"

// Builtins lists the embedded profiles with their one-line descriptions,
// sorted by name.
func Builtins() []BuiltinInfo {
	ents, _ := builtinFS.ReadDir("builtin")
	out := make([]BuiltinInfo, 0, len(ents))
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		src, _ := builtinFS.ReadFile(path.Join("builtin", e.Name()))
		out = append(out, BuiltinInfo{Name: name, Description: descriptionOf(src)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BuiltinSource returns the YAML of the embedded profile name.
func BuiltinSource(name string) ([]byte, error) {
	src, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil || strings.ContainsAny(name, "/\\") {
		names := make([]string, 0)
		for _, b := range Builtins() {
			names = append(names, b.Name)
		}
		return nil, fmt.Errorf("no built-in profile %q (%s)", name, didYouMean(name, names))
	}
	return src, nil
}

// Builtin loads the embedded profile name.
func Builtin(name string) (*Profile, error) {
	src, err := BuiltinSource(name)
	if err != nil {
		return nil, err
	}
	return Load("builtin:"+name, src, "")
}

// descriptionOf returns the value of the top-level description: line.
func descriptionOf(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "description:"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"'`)
		}
	}
	return ""
}
