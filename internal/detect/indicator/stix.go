package indicator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// stixObject holds the fields of a STIX 2.x object heir reads; the rest
// is ignored.
type stixObject struct {
	Type           string    `json:"type"`
	ID             string    `json:"id"`
	SpecVersion    string    `json:"spec_version"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Pattern        string    `json:"pattern"`
	PatternType    string    `json:"pattern_type"`
	IndicatorTypes []string  `json:"indicator_types"`
	Labels         []string  `json:"labels"`
	ValidFrom      stixTime  `json:"valid_from"`
	ValidUntil     stixTime  `json:"valid_until"`
	Revoked        bool      `json:"revoked"`
	Modified       *stixTime `json:"modified"`
}

// stixTime accepts RFC 3339 timestamps and leaves the zero time for an
// absent one.
type stixTime struct{ time.Time }

func (t *stixTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", shorten(s), err)
	}
	t.Time = v
	return nil
}

// ReadSTIX adds the indicators of a STIX 2.1 bundle. Indicators it cannot
// use (revoked, a pattern language other than STIX, a pattern beyond the
// simple forms in the package comment) are skipped and counted in the
// report; a document that is not a bundle of objects is an error.
func ReadSTIX(name string, r io.Reader, s *Set) (Report, error) {
	var rep Report
	data, err := io.ReadAll(io.LimitReader(r, MaxFile+1))
	if err != nil {
		return rep, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxFile {
		return rep, fmt.Errorf("%s: larger than %d MiB", name, MaxFile>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	jerr := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			off = se.Offset
		case errors.As(err, &te):
			off = te.Offset
		}
		line, col := position(data, off)
		return &LineError{name, line, col, "STIX: " + err.Error()}
	}
	at := func(msg string) error {
		line, col := position(data, dec.InputOffset())
		return &LineError{name, line, col, "STIX: " + msg}
	}
	tok, err := dec.Token()
	if err != nil {
		return rep, jerr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return rep, at("expected a JSON object (a STIX bundle)")
	}
	var topType string
	sawObjects := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return rep, jerr(err)
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			if err := dec.Decode(&topType); err != nil {
				return rep, jerr(err)
			}
			if topType != "bundle" {
				return rep, at(fmt.Sprintf("type is %q; heir reads bundles of indicators (type \"bundle\")", shorten(topType)))
			}
		case "objects":
			sawObjects = true
			tok, err := dec.Token()
			if err != nil {
				return rep, jerr(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return rep, at("objects must be an array")
			}
			for i := 0; dec.More(); i++ {
				var o stixObject
				if err := dec.Decode(&o); err != nil {
					return rep, jerr(fmt.Errorf("objects[%d]: %w", i, err))
				}
				if err := addSTIX(name, i, &o, s, &rep); err != nil {
					line, col := position(data, dec.InputOffset())
					return rep, &LineError{name, line, col, err.Error()}
				}
			}
			if _, err := dec.Token(); err != nil {
				return rep, jerr(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return rep, jerr(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return rep, jerr(err)
	}
	if topType != "bundle" {
		return rep, &LineError{name, 1, 1, `STIX: the document has no "type": "bundle"`}
	}
	if !sawObjects {
		return rep, &LineError{name, 1, 1, `STIX: the bundle has no "objects"`}
	}
	return rep, nil
}

// addSTIX adds one bundle object; an error is fatal (the set is full),
// while unusable indicators are only skipped.
func addSTIX(file string, i int, o *stixObject, s *Set, rep *Report) error {
	if o.Type != "indicator" {
		// Relationships, identities, malware objects …: not indicators.
		return nil
	}
	where := fmt.Sprintf("objects[%d] %s", i, shorten(o.ID))
	switch {
	case o.Revoked:
		rep.skip("%s: revoked", where)
		return nil
	case o.PatternType != "" && o.PatternType != "stix":
		rep.skip("%s: pattern_type %q (heir reads STIX patterns)", where, shorten(o.PatternType))
		return nil
	}
	values, err := parsePattern(o.Pattern)
	if err != nil {
		rep.skip("%s: pattern: %v", where, err)
		return nil
	}
	desc := o.Name
	if desc == "" {
		desc = o.Description
	} else if o.Description != "" {
		desc += ": " + o.Description
	}
	labels := append(append([]string(nil), o.IndicatorTypes...), o.Labels...)
	for _, v := range values {
		ind := Indicator{Type: v.typ, Value: v.value, Description: desc, Source: file + ": " + shorten(o.ID), ID: o.ID,
			Labels: labels, ValidFrom: o.ValidFrom.Time, ValidUntil: o.ValidUntil.Time}
		if err := s.Add(ind); err != nil {
			if s.n >= MaxIndicators {
				return err
			}
			rep.skip("%s: %v", where, err)
			continue
		}
		rep.Added++
	}
	return nil
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// --- STIX patterns ---

type patternValue struct {
	typ   Type
	value string
}

// MaxPattern bounds the length of a pattern heir parses.
const MaxPattern = 64 << 10

// parsePattern reads the subset of the STIX 2.1 patterning language that
// names values to match: comparison expressions with = or IN on the
// supported object paths, joined by OR (inside or between observation
// expressions) and grouped by parentheses. AND, NOT, other operators and
// qualifiers (WITHIN, REPEATS, START/STOP) describe conditions a single
// value cannot, so such patterns are refused.
func parsePattern(p string) ([]patternValue, error) {
	if strings.TrimSpace(p) == "" {
		return nil, errors.New("empty")
	}
	if len(p) > MaxPattern {
		return nil, fmt.Errorf("longer than %d bytes", MaxPattern)
	}
	ps := &patParser{src: p}
	if err := ps.next(); err != nil {
		return nil, err
	}
	if err := ps.observation(0); err != nil {
		return nil, err
	}
	if ps.tok.kind != tEOF {
		return nil, ps.unexpected("end of pattern")
	}
	if len(ps.out) == 0 {
		return nil, errors.New("no value")
	}
	return ps.out, nil
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tOp     // = != < > <= >=
	tString // 'quoted'
	tWord   // object path, keyword or other literal
)

type patTok struct {
	kind tokKind
	text string
	pos  int
}

type patParser struct {
	src string
	pos int
	tok patTok
	out []patternValue
}

// maxDepth bounds nesting of parentheses and brackets.
const maxDepth = 32

func (ps *patParser) unexpected(want string) error {
	got := ps.tok.text
	if ps.tok.kind == tEOF {
		got = "end of pattern"
	}
	return fmt.Errorf("at %d: expected %s, found %q", ps.tok.pos+1, want, shorten(got))
}

func (ps *patParser) next() error {
	s := ps.src
	for ps.pos < len(s) && (s[ps.pos] == ' ' || s[ps.pos] == '\t' || s[ps.pos] == '\n' || s[ps.pos] == '\r') {
		ps.pos++
	}
	start := ps.pos
	if ps.pos >= len(s) {
		ps.tok = patTok{tEOF, "", start}
		return nil
	}
	c := s[ps.pos]
	switch c {
	case '[', ']', '(', ')', ',':
		k := tComma
		switch c {
		case '[':
			k = tLBrack
		case ']':
			k = tRBrack
		case '(':
			k = tLParen
		case ')':
			k = tRParen
		}
		ps.pos++
		ps.tok = patTok{k, s[start:ps.pos], start}
		return nil
	case '=', '!', '<', '>':
		ps.pos++
		if ps.pos < len(s) && s[ps.pos] == '=' {
			ps.pos++
		}
		ps.tok = patTok{tOp, s[start:ps.pos], start}
		return nil
	case '\'':
		var b strings.Builder
		ps.pos++
		for {
			if ps.pos >= len(s) {
				return fmt.Errorf("at %d: unterminated string", start+1)
			}
			c := s[ps.pos]
			if c == '\\' && ps.pos+1 < len(s) && (s[ps.pos+1] == '\'' || s[ps.pos+1] == '\\') {
				b.WriteByte(s[ps.pos+1])
				ps.pos += 2
				continue
			}
			ps.pos++
			if c == '\'' {
				break
			}
			b.WriteByte(c)
		}
		ps.tok = patTok{tString, b.String(), start}
		return nil
	}
	// A word: an object path (with quoted path components such as
	// hashes.'SHA-1'), a keyword, or another literal (numbers, h'…').
	for ps.pos < len(s) {
		c := s[ps.pos]
		if c == '\'' {
			if ps.pos > start && (s[ps.pos-1] == '.' || s[ps.pos-1] == 'h' || s[ps.pos-1] == 'b' || s[ps.pos-1] == 't') {
				end := strings.IndexByte(s[ps.pos+1:], '\'')
				if end < 0 {
					return fmt.Errorf("at %d: unterminated quote", ps.pos+1)
				}
				ps.pos += end + 2
				continue
			}
			break
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']' || c == '(' || c == ')' ||
			c == ',' || c == '=' || c == '!' || c == '<' || c == '>' {
			break
		}
		ps.pos++
	}
	if ps.pos == start {
		ps.pos++
		return fmt.Errorf("at %d: unexpected %q", start+1, s[start:ps.pos])
	}
	ps.tok = patTok{tWord, s[start:ps.pos], start}
	return nil
}

func (ps *patParser) keyword(w string) bool { return ps.tok.kind == tWord && ps.tok.text == w }

// observation := obsTerm (OR obsTerm)*
func (ps *patParser) observation(depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deeply")
	}
	for {
		if err := ps.obsTerm(depth); err != nil {
			return err
		}
		switch {
		case ps.keyword("OR"):
			if err := ps.next(); err != nil {
				return err
			}
		case ps.keyword("AND"), ps.keyword("FOLLOWEDBY"):
			return fmt.Errorf("%s between observations is not a single value to match", ps.tok.text)
		case ps.keyword("WITHIN"), ps.keyword("REPEATS"), ps.keyword("START"):
			return fmt.Errorf("qualifier %s is not supported", ps.tok.text)
		default:
			return nil
		}
	}
}

// obsTerm := '[' comparison-expression ']' | '(' observation ')'
func (ps *patParser) obsTerm(depth int) error {
	switch ps.tok.kind {
	case tLBrack:
		if err := ps.next(); err != nil {
			return err
		}
		if err := ps.compExpr(depth + 1); err != nil {
			return err
		}
		if ps.tok.kind != tRBrack {
			return ps.unexpected("]")
		}
		return ps.next()
	case tLParen:
		if err := ps.next(); err != nil {
			return err
		}
		if err := ps.observation(depth + 1); err != nil {
			return err
		}
		if ps.tok.kind != tRParen {
			return ps.unexpected(")")
		}
		return ps.next()
	}
	return ps.unexpected("[")
}

// compExpr := compTerm (OR compTerm)*
func (ps *patParser) compExpr(depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deeply")
	}
	for {
		if err := ps.compTerm(depth); err != nil {
			return err
		}
		switch {
		case ps.keyword("OR"):
			if err := ps.next(); err != nil {
				return err
			}
		case ps.keyword("AND"):
			return errors.New("AND inside an observation is not a single value to match")
		default:
			return nil
		}
	}
}

// compTerm := '(' compExpr ')' | path op value
func (ps *patParser) compTerm(depth int) error {
	if ps.tok.kind == tLParen {
		if err := ps.next(); err != nil {
			return err
		}
		if err := ps.compExpr(depth + 1); err != nil {
			return err
		}
		if ps.tok.kind != tRParen {
			return ps.unexpected(")")
		}
		return ps.next()
	}
	if ps.tok.kind != tWord {
		return ps.unexpected("an object path such as ipv4-addr:value")
	}
	path := ps.tok.text
	typ, ok := pathType(path)
	if !ok {
		return fmt.Errorf("object path %q is not one heir matches (ipv4-addr:value, ipv6-addr:value, domain-name:value, x509-certificate:hashes.'SHA-1', network-traffic:dst_ref.value)", shorten(path))
	}
	if err := ps.next(); err != nil {
		return err
	}
	switch {
	case ps.tok.kind == tOp && ps.tok.text == "=":
		if err := ps.next(); err != nil {
			return err
		}
		if ps.tok.kind != tString {
			return ps.unexpected("a quoted string")
		}
		if err := ps.emit(typ, ps.tok.text); err != nil {
			return err
		}
		return ps.next()
	case ps.keyword("IN"):
		if err := ps.next(); err != nil {
			return err
		}
		if ps.tok.kind != tLParen {
			return ps.unexpected("(")
		}
		for {
			if err := ps.next(); err != nil {
				return err
			}
			if ps.tok.kind != tString {
				return ps.unexpected("a quoted string")
			}
			if err := ps.emit(typ, ps.tok.text); err != nil {
				return err
			}
			if err := ps.next(); err != nil {
				return err
			}
			if ps.tok.kind == tRParen {
				return ps.next()
			}
			if ps.tok.kind != tComma {
				return ps.unexpected(", or )")
			}
		}
	case ps.keyword("NOT"):
		return errors.New("NOT is not a value to match")
	}
	return ps.unexpected("= or IN")
}

// maxValues bounds the values one pattern may name.
const maxValues = 10000

func (ps *patParser) emit(typ Type, v string) error {
	if len(ps.out) >= maxValues {
		return fmt.Errorf("more than %d values", maxValues)
	}
	if typ == TypeIP && strings.Contains(v, "/") {
		typ = TypeCIDR
	}
	ps.out = append(ps.out, patternValue{typ, v})
	return nil
}

// pathType maps an object path to the indicator type it names.
func pathType(path string) (Type, bool) {
	p := strings.ToLower(strings.NewReplacer("'", "", `"`, "").Replace(path))
	switch p {
	case "ipv4-addr:value", "ipv6-addr:value", "network-traffic:dst_ref.value", "network-traffic:src_ref.value":
		return TypeIP, true
	case "domain-name:value":
		return TypeDomain, true
	case "x509-certificate:hashes.sha-1", "x509-certificate:hashes.sha1":
		return TypeCert, true
	}
	return "", false
}
