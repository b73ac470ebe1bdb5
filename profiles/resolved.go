package profiles

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Resolved returns the profile src (name is used in error positions) as
// YAML with every ${NAME} replaced by its value from lookup and every
// ${secret:NAME} by Redacted: what `agentstorm profiles show FILE` prints.
// Only the variables are checked (LoadWith validates the rest); problems
// with them are LoadErrors, with secrets redacted.
func Resolved(name string, src []byte, lookup Lookup) (out []byte, err error) {
	l := newLoader(name, src, lookup)
	defer func() {
		if r := recover(); r != nil {
			l.errs = append(l.errs, LoadError{File: name, Msg: fmt.Sprintf("cannot parse profile: %v", r), Hint: "this is a bug in agentstorm; please report it with the file"})
			out, err = nil, l.redactedErrs()
		}
	}()
	doc := l.parse(true)
	if len(l.errs) > 0 {
		return nil, l.redactedErrs()
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("%s: write the resolved profile: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: write the resolved profile: %w", name, err)
	}
	return b.Bytes(), nil
}
