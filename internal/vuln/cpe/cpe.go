// Package cpe reads CPE 2.3 names in the formatted string binding
// (cpe:2.3:part:vendor:product:version:update:edition:language:sw_edition:
// target_sw:target_hw:other) and the older URI binding (cpe:/a:vendor:product:
// version), and matches them as the CPE Name Matching specification
// (NISTIR 7696) says: ANY (*) and NA (-) logical values, quoted characters,
// and the unquoted wildcards * and ? at the ends of a value.
//
// It depends on nothing but the standard library.
package cpe

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen bounds a CPE string; NVD's longest are far shorter.
const MaxLen = 1024

// Attribute indexes, in binding order.
const (
	Part = iota
	Vendor
	Product
	Version
	Update
	Edition
	Language
	SWEdition
	TargetSW
	TargetHW
	Other
	numAttrs
)

var attrNames = [numAttrs]string{"part", "vendor", "product", "version", "update", "edition", "language", "sw_edition", "target_sw", "target_hw", "other"}

// Logical values.
const (
	Any = "*"
	NA  = "-"
)

// Name is a parsed CPE name: each attribute as written in the formatted
// string (quoting kept), "*" for ANY and "-" for NA.
type Name struct {
	attrs [numAttrs]string
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("bad CPE name")

// Parse reads a CPE 2.3 formatted string or a CPE 2.2 URI.
func Parse(s string) (Name, error) {
	var n Name
	if len(s) > MaxLen {
		return n, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxLen)
	}
	switch {
	case strings.HasPrefix(s, "cpe:2.3:"):
		return parseFS(s)
	case strings.HasPrefix(s, "cpe:/"):
		return parseURI(s)
	}
	return n, fmt.Errorf("%w: %q does not start with cpe:2.3: or cpe:/", ErrSyntax, clip(s))
}

// MustParse is Parse for constants in tests and tables.
func MustParse(s string) Name {
	n, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func parseFS(s string) (Name, error) {
	var n Name
	rest := s[len("cpe:2.3:"):]
	i := 0
	start := 0
	for p := 0; p <= len(rest); p++ {
		if p < len(rest) && rest[p] == '\\' {
			p++ // the quoted character is part of the value
			if p == len(rest) {
				return n, fmt.Errorf("%w: %q ends in a lone backslash", ErrSyntax, clip(s))
			}
			continue
		}
		if p == len(rest) || rest[p] == ':' {
			if i >= numAttrs {
				return n, fmt.Errorf("%w: %q has more than %d attributes", ErrSyntax, clip(s), numAttrs)
			}
			v := rest[start:p]
			if err := checkValue(v); err != nil {
				return n, fmt.Errorf("%w: %s of %q: %v", ErrSyntax, attrNames[i], clip(s), err)
			}
			n.attrs[i] = v
			i++
			start = p + 1
		}
	}
	if i != numAttrs {
		return n, fmt.Errorf("%w: %q has %d attributes, want %d", ErrSyntax, clip(s), i, numAttrs)
	}
	switch n.attrs[Part] {
	case "a", "o", "h", Any:
	default:
		return n, fmt.Errorf("%w: part %q of %q is not a, o or h", ErrSyntax, n.attrs[Part], clip(s))
	}
	return n, nil
}

// checkValue enforces the formatted-string rules that matter for matching:
// no empty value, no space or control characters, wildcards only unquoted
// at the ends (a lone * is ANY), - alone is NA.
func checkValue(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("control or space character at %d", i)
		}
		if c == '\\' {
			i++
			continue
		}
		if c == '*' && i != 0 && i != len(v)-1 {
			return errors.New("unquoted * inside a value")
		}
		if c == '?' {
			// ? runs are allowed only at the ends.
			j := i
			for j < len(v) && v[j] == '?' {
				j++
			}
			if i != 0 && j != len(v) {
				return errors.New("unquoted ? inside a value")
			}
			i = j - 1
		}
	}
	return nil
}

// parseURI reads the CPE 2.2 URI binding (cpe:/a:vendor:product:version:
// update:edition:language), percent-decoding its values; missing trailing
// attributes are ANY, an empty one is ANY too (as CPE 2.3 reads 2.2).
func parseURI(s string) (Name, error) {
	var n Name
	for i := range n.attrs {
		n.attrs[i] = Any
	}
	parts := strings.Split(s[len("cpe:/"):], ":")
	if len(parts) > 7 {
		return n, fmt.Errorf("%w: %q has more than 7 URI components", ErrSyntax, clip(s))
	}
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i == 5 && strings.HasPrefix(p, "~") { // packed edition
			packed := strings.Split(p[1:], "~")
			if len(packed) != 5 {
				return n, fmt.Errorf("%w: packed edition of %q", ErrSyntax, clip(s))
			}
			for j, idx := range []int{Edition, SWEdition, TargetSW, TargetHW, Other} {
				v, err := uriValue(packed[j])
				if err != nil {
					return n, fmt.Errorf("%w: %q: %v", ErrSyntax, clip(s), err)
				}
				n.attrs[idx] = v
			}
			continue
		}
		v, err := uriValue(p)
		if err != nil {
			return n, fmt.Errorf("%w: %q: %v", ErrSyntax, clip(s), err)
		}
		n.attrs[i] = v
	}
	switch n.attrs[Part] {
	case "a", "o", "h", Any:
	default:
		return n, fmt.Errorf("%w: part %q of %q is not a, o or h", ErrSyntax, n.attrs[Part], clip(s))
	}
	// Quoting can make the bound form longer than the URI.
	if len(n.String()) > MaxLen {
		return n, fmt.Errorf("%w: %q binds to more than %d bytes", ErrSyntax, clip(s), MaxLen)
	}
	return n, nil
}

// uriValue turns a 2.2 URI value into the 2.3 formatted-string form:
// percent escapes decoded, punctuation quoted, "-" NA, "" ANY.
func uriValue(v string) (string, error) {
	switch v {
	case "":
		return Any, nil
	case "-":
		return NA, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' {
			if i+2 >= len(v) {
				return "", errors.New("short percent escape")
			}
			var x byte
			for _, h := range []byte{v[i+1], v[i+2]} {
				x <<= 4
				switch {
				case h >= '0' && h <= '9':
					x |= h - '0'
				case h >= 'a' && h <= 'f':
					x |= h - 'a' + 10
				case h >= 'A' && h <= 'F':
					x |= h - 'A' + 10
				default:
					return "", errors.New("bad percent escape")
				}
			}
			i += 2
			switch x {
			case 0x01:
				b.WriteByte('?')
				continue
			case 0x02:
				b.WriteByte('*')
				continue
			}
			c = x
		}
		if c <= ' ' || c == 0x7f {
			return "", errors.New("control or space character")
		}
		if !(isAlnum(c) || c == '_') && !(c == '-' && i > 0) && !(c == '.') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	out := b.String()
	if err := checkValue(out); err != nil {
		return "", err
	}
	return out, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// New builds a name from attribute values in formatted-string form; empty
// values are ANY.
func New(part, vendor, product, version string) Name {
	var n Name
	for i := range n.attrs {
		n.attrs[i] = Any
	}
	for i, v := range []string{part, vendor, product, version} {
		if v != "" {
			n.attrs[i] = v
		}
	}
	return n
}

// Attr returns one attribute as written ("*" ANY, "-" NA).
func (n Name) Attr(i int) string { return n.attrs[i] }

// Get returns an attribute's value with quoting removed and lower-cased,
// the form vendor/product indexes use ("" for ANY, "-" for NA).
func (n Name) Get(i int) string {
	v := n.attrs[i]
	if v == Any {
		return ""
	}
	return Unquote(v)
}

// Unquote removes formatted-string quoting and lower-cases.
func Unquote(v string) string {
	if !strings.ContainsRune(v, '\\') {
		return strings.ToLower(v)
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return strings.ToLower(b.String())
}

// String is the formatted string binding.
func (n Name) String() string {
	if n.attrs[Part] == "" {
		return ""
	}
	return "cpe:2.3:" + strings.Join(n.attrs[:], ":")
}

// IsZero says whether the name is unset.
func (n Name) IsZero() bool { return n.attrs[Part] == "" }

// Relation is the set relation of one source attribute to a target
// attribute (NISTIR 7696 table 6-2).
type Relation int8

// Relations.
const (
	Disjoint Relation = iota
	Equal
	Superset // the source covers the target (source ANY or a matching wildcard)
	Subset   // the target is ANY and the source is a value
)

// CompareAttr compares a source attribute value with a target one, both in
// formatted-string form.
func CompareAttr(src, tgt string) Relation {
	switch {
	case src == Any && tgt == Any:
		return Equal
	case src == Any:
		return Superset
	case tgt == Any:
		return Subset
	case src == NA && tgt == NA:
		return Equal
	case src == NA || tgt == NA:
		return Disjoint
	}
	if hasWildcard(src) {
		if hasWildcard(tgt) {
			// Wildcards in a target are undefined; read them literally.
			if Unquote(src) == Unquote(tgt) {
				return Equal
			}
			return Disjoint
		}
		if wildMatch(strings.ToLower(src), tgt) {
			return Superset
		}
		return Disjoint
	}
	if Unquote(src) == Unquote(tgt) {
		return Equal
	}
	return Disjoint
}

// hasWildcard says whether a value holds an unquoted * or ?.
func hasWildcard(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// wildMatch matches a source value holding unquoted * (any run) and ?
// (one character) against a literal target value, both lower-cased; the
// target's quoting is removed first so \. in one matches . in the other.
func wildMatch(src, tgt string) bool {
	type tok struct {
		c    byte
		wild byte // 0, '*' or '?'
	}
	var p []tok
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\\':
			if i+1 < len(src) {
				i++
				p = append(p, tok{c: src[i]})
			}
		case '*', '?':
			p = append(p, tok{wild: src[i]})
		default:
			p = append(p, tok{c: src[i]})
		}
	}
	t := Unquote(tgt)
	// Classic glob with one backtrack point: linear in practice.
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi].wild == '?' || p[pi].wild == 0 && p[pi].c == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi].wild == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].wild == '*' {
		pi++
	}
	return pi == len(p)
}

// Matches says whether src (an NVD criteria, say) covers tgt (a device's
// component): every attribute is Equal or Superset. When exact is false,
// Subset relations (the target does not say, the source does) also count
// and are reported in loose, so the caller can lower its confidence.
// Attributes listed in skip are not compared: the version when the caller
// compares ranges, vendor and product when it matched them through an
// alias table.
func Matches(src, tgt Name, skip ...int) (ok bool, loose []string) {
	for i := 0; i < numAttrs; i++ {
		if skipped(i, skip) {
			continue
		}
		switch CompareAttr(src.attrs[i], tgt.attrs[i]) {
		case Disjoint:
			return false, nil
		case Subset:
			loose = append(loose, attrNames[i])
		}
	}
	return true, loose
}

func skipped(i int, skip []int) bool {
	for _, s := range skip {
		if s == i {
			return true
		}
	}
	return false
}

// AttrName is the specification's name of an attribute index.
func AttrName(i int) string {
	if i < 0 || i >= numAttrs {
		return ""
	}
	return attrNames[i]
}
