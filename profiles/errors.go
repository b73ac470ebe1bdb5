package profiles

import (
	"fmt"
	"sort"
	"strings"
)

// LoadError is one problem in a profile (or in a data file it names), with
// its position. Line and Column are 1-based; 0 means unknown.
type LoadError struct {
	File   string
	Line   int
	Column int
	// Msg says what was wrong and what was expected.
	Msg string
	// Hint says what to do (may be empty).
	Hint string
}

// Error renders "file:line:col: msg (hint)".
func (e LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// LoadErrors is every problem found in a profile, in file order. Load and
// LoadFile return it (as error) when the profile is invalid.
type LoadErrors []LoadError

// Error renders one error per line.
func (es LoadErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders errors by file, line and column, keeping the discovery order
// of errors at the same position.
func (es LoadErrors) sorted() LoadErrors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return es
}

// didYouMean returns a hint naming the closest of known to got, or listing
// the known names when none is close.
func didYouMean(got string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		d := editDistance(strings.ToLower(got), strings.ToLower(k))
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && (bestD <= 2 || bestD*3 <= len(got)) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(known) == 0 {
		return ""
	}
	return "expected one of: " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
