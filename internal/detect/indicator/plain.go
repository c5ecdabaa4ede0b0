package indicator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// LineError is a problem at a place in an indicator file.
type LineError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *LineError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Report says what an import did.
type Report struct {
	// Added counts indicators added (duplicates included).
	Added int
	// Skipped counts entries left out on purpose (revoked or expired STIX
	// indicators, unsupported patterns, non-indicator objects).
	Skipped int
	// Notes explain the first skipped entries (at most 20).
	Notes []string
}

func (r *Report) skip(format string, args ...any) {
	r.Skipped++
	if len(r.Notes) < 20 {
		r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	}
}

// MaxFile is the largest indicator file read.
const MaxFile = 512 << 20

// Load reads the indicator file at path into a new set, telling STIX
// bundles (a JSON document) from plain and CSV lists by content.
func Load(path string) (*Set, Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Report{}, err
	}
	defer f.Close()
	s := NewSet()
	rep, err := Read(filepath.Base(path), f, s)
	if err != nil {
		return nil, rep, err
	}
	s.sources = append(s.sources, path)
	return s, rep, nil
}

// LoadAll loads every file and merges them.
func LoadAll(paths []string) (*Set, []Report, error) {
	var sets []*Set
	var reps []Report
	for _, p := range paths {
		s, rep, err := Load(p)
		if err != nil {
			return nil, nil, err
		}
		sets = append(sets, s)
		reps = append(reps, rep)
	}
	s, err := Merge(sets...)
	return s, reps, err
}

// Read adds the indicators of one file (named name in errors) to s.
func Read(name string, r io.Reader, s *Set) (Report, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte{0xef, 0xbb, 0xbf}) {
		br.Discard(3)
	}
	// The first character that is not white space tells the format: a
	// STIX bundle is a JSON object.
	head, _ := br.Peek(4096)
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return ReadSTIX(name, io.LimitReader(br, MaxFile), s)
	}
	return ReadPlain(name, br, s)
}

// ReadPlain adds the indicators of a plain or CSV list.
func ReadPlain(name string, r io.Reader, s *Set) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine+1)
	line := 0
	sawData := false
	for sc.Scan() {
		line++
		text := sc.Text()
		if !utf8.ValidString(text) {
			return rep, &LineError{name, line, 0, "not UTF-8 text"}
		}
		t := strings.TrimSpace(text)
		if t == "" || t[0] == '#' || strings.HasPrefix(t, "//") || t[0] == ';' {
			continue
		}
		col := strings.Index(text, t) + 1
		first := !sawData
		sawData = true
		ind, ok, msg := parseLine(t)
		if !ok {
			if first && strings.Contains(t, ",") {
				// A CSV header row ("first_seen,dst_ip,dst_port").
				continue
			}
			return rep, &LineError{name, line, col, msg}
		}
		ind.Source = fmt.Sprintf("%s:%d", name, line)
		if err := s.Add(ind); err != nil {
			return rep, &LineError{name, line, col, err.Error()}
		}
		rep.Added++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return rep, &LineError{name, line + 1, 0, fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		return rep, fmt.Errorf("%s: %w", name, err)
	}
	return rep, nil
}

// parseLine reads one non-comment line.
func parseLine(t string) (Indicator, bool, string) {
	// An inline comment ends the line.
	if i := strings.Index(t, " #"); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	if strings.Contains(t, ",") {
		fields := splitCSV(t)
		for i, f := range fields {
			ind, ok := classify(strings.TrimSpace(f))
			if !ok {
				continue
			}
			var desc []string
			for _, g := range fields[i+1:] {
				g = strings.TrimSpace(g)
				if g == "" || isNumber(g) {
					continue
				}
				desc = append(desc, g)
			}
			ind.Description = strings.Join(desc, "; ")
			return ind, true, ""
		}
		return Indicator{}, false, "no field of this CSV row is an IP address, CIDR block, domain name or SHA-1 fingerprint"
	}
	fields := strings.Fields(t)
	// A hosts-file line: the address is a sinkhole, the name is the
	// indicator.
	if len(fields) >= 2 && (fields[0] == "0.0.0.0" || fields[0] == "127.0.0.1" || fields[0] == "::" || fields[0] == "::1") {
		if ind, ok := classify(fields[1]); ok && ind.Type == TypeDomain {
			return ind, true, ""
		}
	}
	ind, ok := classify(fields[0])
	if !ok {
		return Indicator{}, false, fmt.Sprintf("%q is not an IP address, CIDR block, domain name or SHA-1 fingerprint", shorten(fields[0]))
	}
	if len(fields) > 1 {
		ind.Description = strings.Join(fields[1:], " ")
	}
	return ind, true, ""
}

// classify tells what kind of indicator a token is.
func classify(v string) (Indicator, bool) {
	v = strings.Trim(v, `"'`)
	if v == "" {
		return Indicator{}, false
	}
	if a, err := netip.ParseAddr(v); err == nil {
		if a.IsUnspecified() {
			return Indicator{}, false
		}
		return Indicator{Type: TypeIP, Value: v}, true
	}
	if p, err := netip.ParsePrefix(v); err == nil && p.Bits() > 0 {
		return Indicator{Type: TypeCIDR, Value: v}, true
	}
	if _, ok := parseSHA1(v); ok {
		return Indicator{Type: TypeCert, Value: v}, true
	}
	if _, ok := canonicalDomain(v); ok {
		return Indicator{Type: TypeDomain, Value: v}, true
	}
	return Indicator{}, false
}

// splitCSV splits a CSV row, honouring double quotes (SSLBL quotes nothing,
// but other exports do).
func splitCSV(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func shorten(s string) string {
	if len(s) > 60 {
		return truncate(s, 60) + "…"
	}
	return s
}
