package rama

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Bounds on a YAML file's shape. The YAML parser's time grows with the
// square of the nesting depth (20,000 nested brackets take seconds), and
// aliases let a kilobyte expand into billions of values when decoded:
// configs need neither, so both are refused before decoding.
const (
	maxFlowDepth   = 32  // nested [ ] and { }
	maxIndent      = 256 // columns of leading spaces
	maxIndicators  = 32  // "- " and "? " opening one line
	maxYAMLAliases = 0
)

// decodeYAML decodes data into v, turning a panic of the YAML library on
// hostile input into an error: nothing a file says may crash heir.
func decodeYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this input: %v", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
}

// checkYAML refuses input nested deeper than the bounds, or using anchors
// and aliases. It scans the bytes first (cheap, linear) and only then
// lets the parser build a tree.
func checkYAML(data []byte) error {
	depth, line := 0, 1
	quote := byte(0)
	comment, lineStart := false, true
	indent, indicators := 0, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			line++
			// A quoted scalar may span lines: its quote stays open.
			comment, lineStart, indent, indicators = false, true, 0, 0
			continue
		}
		if comment {
			continue
		}
		if quote != 0 {
			switch {
			case quote == '"' && c == '\\':
				i++
			case c == quote:
				quote = 0
			}
			continue
		}
		if lineStart {
			switch c {
			case ' ':
				if indent++; indent > maxIndent {
					return fmt.Errorf("line %d: indented more than %d columns", line, maxIndent)
				}
				continue
			case '-', '?':
				if i+1 < len(data) && (data[i+1] == ' ' || data[i+1] == '\t') {
					if indicators++; indicators > maxIndicators {
						return fmt.Errorf("line %d: more than %d nested entries on one line", line, maxIndicators)
					}
					i++
					continue
				}
			}
			lineStart = false
		}
		switch c {
		case '#':
			if i == 0 || data[i-1] == ' ' || data[i-1] == '\t' {
				comment = true
			}
		case '"', '\'':
			quote = c
		case '[', '{':
			if depth++; depth > maxFlowDepth {
				return fmt.Errorf("line %d: nested deeper than %d levels", line, maxFlowDepth)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		// The decoder reports syntax errors with their position.
		return nil
	}
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		for _, typ := range []ast.NodeType{ast.AliasType, ast.AnchorType} {
			if ns := ast.Filter(typ, doc.Body); len(ns) > maxYAMLAliases {
				pos := ns[0].GetToken().Position
				return fmt.Errorf("line %d: anchors and aliases (&name, *name) are not supported here", pos.Line)
			}
		}
		// Tags (!name, !!type) serve nothing here, and the decoder has
		// crashed on some where a list was expected.
		if ns := ast.Filter(ast.TagType, doc.Body); len(ns) > 0 {
			return fmt.Errorf("line %d: tags (!name) are not supported here", ns[0].GetToken().Position.Line)
		}
	}
	return nil
}
