package finish

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agentstorm/agentstorm/report"
)

// Spec is one --out KIND=PATH.
type Spec struct {
	Kind, Path string
}

// writers are the output kinds written from a summary. "hlog" is not here:
// a run streams it while it runs, a report merges its input logs into it
// and an ingest writes it from its spool; each gives the finish an Output
// for it.
var writers = map[string]func(io.Writer, *report.Summary) error{
	"json":     report.WriteJSON,
	"junit":    report.WriteJUnit,
	"hgrm":     report.WriteHgrm,
	"markdown": report.WriteMarkdown,
	"html":     report.WriteHTML,
	"text":     report.WriteText,
}

// aliases map other spellings to the kinds.
var aliases = map[string]string{"md": "markdown", "xml": "junit", "txt": "text", "htm": "html"}

// Kinds lists every output kind, sorted and comma-separated, for help and
// messages; withHlog adds "hlog".
func Kinds(withHlog bool) string {
	kinds := make([]string, 0, len(writers)+1)
	for k := range writers {
		kinds = append(kinds, k)
	}
	if withHlog {
		kinds = append(kinds, "hlog")
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}

// ParseSpecs parses --out values; withHlog allows the hlog kind (once).
// It checks what can be checked before a run: the kind, that the path's
// directory exists, that the path can be written (report.CheckOutputPath:
// not a directory or special file, a writable place), and that no path is
// written twice.
func ParseSpecs(list []string, withHlog bool) ([]Spec, error) {
	var out []Spec
	seen := map[string]bool{}
	hlog := false
	for _, v := range list {
		kind, path, ok := strings.Cut(v, "=")
		kind = strings.ToLower(strings.TrimSpace(kind))
		if a, isAlias := aliases[kind]; isAlias {
			kind = a
		}
		if !ok || path == "" || kind == "" {
			return nil, fmt.Errorf("--out %q: want KIND=PATH, such as --out html=report.html (kinds: %s)", v, Kinds(withHlog))
		}
		if _, known := writers[kind]; !known && !(withHlog && kind == "hlog") {
			return nil, fmt.Errorf("--out %q: unknown kind %q (kinds: %s)", v, kind, Kinds(withHlog))
		}
		if dir := filepath.Dir(path); dir != "" {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("--out %q: the directory %s does not exist: create it first", v, dir)
			}
		}
		if err := report.CheckOutputPath(path); err != nil {
			return nil, fmt.Errorf("--out %q: %w", v, err)
		}
		if seen[path] {
			return nil, fmt.Errorf("--out %q: %s is written twice", v, path)
		}
		if kind == "hlog" && hlog {
			return nil, fmt.Errorf("--out %q: --out hlog given twice: a run writes one interval log", v)
		}
		hlog = hlog || kind == "hlog"
		seen[path] = true
		out = append(out, Spec{Kind: kind, Path: path})
	}
	return out, nil
}

// Find returns the spec of kind (such as "hlog") and whether there is one.
func Find(specs []Spec, kind string) (Spec, bool) {
	for _, s := range specs {
		if s.Kind == kind {
			return s, true
		}
	}
	return Spec{}, false
}

// appendStepSummary appends the markdown summary to GitHub's step summary
// file (appended, as GitHub's documentation says: other steps write it too).
func appendStepSummary(path string, s *report.Summary) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", err)
	}
	werr := report.WriteMarkdown(f, s)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", cerr)
	}
	return nil
}
