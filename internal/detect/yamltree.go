package detect

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// RuleError is a problem at a place in a rule file.
type RuleError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ykind is the shape of a YAML node.
type ykind uint8

const (
	yNull ykind = iota
	yScalar
	yMap
	ySeq
)

// ynode is a YAML node reduced to what rule files use, with its position.
// Anchors, aliases, tags and merge keys are refused: a rule file should
// read the same to a person as to heir, and aliases are how YAML bombs
// are built.
type ynode struct {
	kind      ykind
	line, col int
	// scalar: the text, and what YAML took it for.
	str    string
	isStr  bool // a string (quoted, or not a number/bool)
	isNum  bool
	num    float64
	isInt  bool
	isBool bool
	b      bool
	// map, in file order
	keys []*ynode
	vals []*ynode
	// sequence
	items []*ynode
}

func (n *ynode) errf(file, format string, args ...any) *RuleError {
	return &RuleError{File: file, Line: n.line, Column: n.col, Msg: fmt.Sprintf(format, args...)}
}

// get returns the value of key in a map node.
func (n *ynode) get(key string) *ynode {
	for i, k := range n.keys {
		if k.str == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *ynode) describe() string {
	switch n.kind {
	case yNull:
		return "nothing"
	case yMap:
		return "a mapping"
	case ySeq:
		return "a list"
	}
	switch {
	case n.isBool:
		return "a boolean (" + n.str + ")"
	case n.isNum:
		return "the number " + n.str
	}
	return fmt.Sprintf("%q", shorten(n.str, 40))
}

// maxYAMLDepth bounds nesting; rule files need a handful of levels.
const maxYAMLDepth = 32

// parseYAML parses data into a tree. Syntax errors carry the position the
// YAML parser reports.
func parseYAML(file string, data []byte) (*ynode, error) {
	f, err := safeParse(data)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, &RuleError{File: file, Line: p.Line, Column: p.Column, Msg: "YAML: " + ye.GetMessage()}
		}
		return nil, &RuleError{File: file, Line: 1, Column: 1, Msg: "YAML: " + err.Error()}
	}
	if len(f.Docs) == 0 || f.Docs[0] == nil || f.Docs[0].Body == nil {
		return &ynode{kind: yNull, line: 1, col: 1}, nil
	}
	if len(f.Docs) > 1 {
		d := f.Docs[1]
		line := 1
		if d.Start != nil {
			line = d.Start.Position.Line
		}
		return nil, &RuleError{File: file, Line: line, Column: 1, Msg: "a rule file holds one YAML document"}
	}
	return convert(file, f.Docs[0].Body, 0)
}

// safeParse runs the YAML parser, turning a panic on hostile input into
// an error (the parser is third-party code).
func safeParse(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func pos(n ast.Node) (int, int) {
	if n == nil {
		return 1, 1
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 1, 1
	}
	return tk.Position.Line, tk.Position.Column
}

func convert(file string, n ast.Node, depth int) (*ynode, error) {
	if depth > maxYAMLDepth {
		l, c := pos(n)
		return nil, &RuleError{file, l, c, fmt.Sprintf("nested deeper than %d levels", maxYAMLDepth)}
	}
	l, c := pos(n)
	out := &ynode{line: l, col: c}
	switch v := n.(type) {
	case nil:
		out.kind = yNull
	case *ast.NullNode:
		out.kind = yNull
	case *ast.StringNode:
		out.kind, out.str, out.isStr = yScalar, v.Value, true
	case *ast.LiteralNode:
		out.kind, out.isStr = yScalar, true
		if v.Value != nil {
			out.str = v.Value.Value
		}
	case *ast.IntegerNode:
		out.kind, out.isNum, out.isInt = yScalar, true, true
		out.str = v.GetToken().Value
		switch x := v.Value.(type) {
		case int64:
			out.num = float64(x)
		case uint64:
			out.num = float64(x)
		default:
			f, err := strconv.ParseFloat(out.str, 64)
			if err != nil {
				return nil, &RuleError{file, l, c, fmt.Sprintf("bad number %q", out.str)}
			}
			out.num = f
		}
	case *ast.FloatNode:
		out.kind, out.isNum = yScalar, true
		out.num, out.str = v.Value, v.GetToken().Value
		if math.IsInf(out.num, 0) || math.IsNaN(out.num) {
			return nil, &RuleError{file, l, c, "infinite or NaN numbers are not allowed"}
		}
	case *ast.BoolNode:
		out.kind, out.isBool, out.b = yScalar, true, v.Value
		out.str = strconv.FormatBool(v.Value)
	case *ast.InfinityNode, *ast.NanNode:
		return nil, &RuleError{file, l, c, "infinite or NaN numbers are not allowed"}
	case *ast.MappingValueNode:
		out.kind = yMap
		if err := addPair(file, out, v, depth); err != nil {
			return nil, err
		}
	case *ast.MappingNode:
		out.kind = yMap
		for _, mv := range v.Values {
			if err := addPair(file, out, mv, depth); err != nil {
				return nil, err
			}
		}
	case *ast.SequenceNode:
		out.kind = ySeq
		for _, it := range v.Values {
			cn, err := convert(file, it, depth+1)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, cn)
		}
	case *ast.AnchorNode, *ast.AliasNode:
		return nil, &RuleError{file, l, c, "YAML anchors and aliases are not allowed in rule files; write the values out"}
	case *ast.TagNode:
		return nil, &RuleError{file, l, c, "YAML tags (!!str, !custom …) are not allowed in rule files"}
	default:
		return nil, &RuleError{file, l, c, fmt.Sprintf("unexpected YAML %s", n.Type())}
	}
	if out.kind == yMap && len(out.keys) > 0 {
		// A mapping is where its first key is (the parser's token is
		// its first ':').
		out.line, out.col = out.keys[0].line, out.keys[0].col
	}
	return out, nil
}

func addPair(file string, m *ynode, mv *ast.MappingValueNode, depth int) error {
	if mv == nil {
		return nil
	}
	l, c := pos(mv.Key)
	if _, merge := mv.Key.(*ast.MergeKeyNode); merge || mv.Key.IsMergeKey() {
		return &RuleError{file, l, c, "YAML merge keys (<<) are not allowed in rule files"}
	}
	k, err := convert(file, mv.Key, depth+1)
	if err != nil {
		return err
	}
	if k.kind != yScalar {
		return &RuleError{file, l, c, "a key must be a plain word"}
	}
	k.isStr = true
	if prev := m.get(k.str); prev != nil {
		return &RuleError{file, l, c, fmt.Sprintf("key %q appears twice", k.str)}
	}
	v, err := convert(file, mv.Value, depth+1)
	if err != nil {
		return err
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
	return nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// words joins choices for messages: "a, b or c".
func words(ws []string) string {
	if len(ws) <= 1 {
		return strings.Join(ws, "")
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " or " + ws[len(ws)-1]
}
