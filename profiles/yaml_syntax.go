package profiles

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
)

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns a YAML syntax error from go.yaml.in/yaml/v3 (which
// decodes every profile) into a LoadError at the problem's line and column.
// v3 says only "line N", and for many errors N is the line where the
// enclosing construct began, not the line of the problem (a tab on line 4 is
// reported at line 3, an unclosed '{' on line 3 at line 2). So the source is
// parsed again with goccy/go-yaml, whose syntax errors carry the offending
// token's line and column; v3's line is the fallback when goccy finds nothing
// wrong.
func syntaxError(file string, src []byte, v3err error) LoadError {
	e := LoadError{File: file, Hint: "check indentation and quoting here"}
	if se := locateSyntaxError(src); se != nil {
		e.Line, e.Column = se.Token.Position.Line, se.Token.Position.Column
		e.Msg = "invalid YAML: " + strings.ReplaceAll(se.Message, "character '\t'", "a tab character")
		if strings.Contains(se.Message, "'\t'") {
			e.Hint = "YAML indents with spaces only: replace the tab"
		}
		return e
	}
	msg := v3err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	e.Hint = "check indentation and quoting near this line"
	return e
}

// locateSyntaxError returns goccy/go-yaml's syntax error for src with its
// position, or nil. A panic in that parser on odd input only loses the
// position, never the error.
func locateSyntaxError(src []byte) (se *goccy.SyntaxError) {
	defer func() {
		if recover() != nil {
			se = nil
		}
	}()
	_, err := goccyparser.ParseBytes(src, 0)
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		return se
	}
	return nil
}
