// Package credential holds heir's list of known default credentials and
// answers whether a user name and password seen in a login is one of them.
//
// The shipped list (defaults.csv, embedded in the binary) names a public
// source for every row: the Mirai botnet's scanner table for the generic
// pairs every IoT attacker tries, CVE records and vendor manuals for
// medical-device defaults. Sites add their own lists with Load.
//
// A default credential is not the same as a weak password. IsDefault says
// that a pair appears in a vendor or attacker default list: the device very
// likely still runs with its factory account. IsWeakPassword judges a
// password on its own (short, repetitive, the user name, or any password of
// the list); callers keep the two findings apart.
//
// Passwords are not kept in memory as text. A List stores, for each row,
// the SHA-256 of the lower-cased user name, a NUL byte and the password, and
// looks a pair up by hashing it the same way. The hash is no protection for
// the shipped values (they are public and fast to hash); it keeps a
// site's own list out of heap dumps and out of anything that prints a List,
// and it makes a lookup a single map access. Entry carries no password at
// all, and its String and LogValue say so.
//
// The package has no mutable package-level state: Defaults parses the
// embedded file on every call and callers keep the *List it returns. A List
// is immutable after construction and safe for concurrent use.
package credential

import (
	"crypto/sha256"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// defaultsCSV is a string so that the embedded list cannot be changed at
// run time.
//
//go:embed defaults.csv
var defaultsCSV string

// Limits on user-supplied lists, so that a mistaken or hostile file cannot
// take unbounded memory. Load fails with a line error when one is exceeded.
const (
	// MaxField is the longest user, password, vendor, product or source, in
	// bytes. A credential longer than this cannot match, so lookups of
	// longer input return false at once.
	MaxField = 256
	// MaxEntries is the most rows a list may hold.
	MaxEntries = 100_000
)

// header is the first record every list must start with.
var header = []string{"vendor", "product", "user", "password", "source"}

// Entry is one row of a list: whose default it is and who said so. It holds
// no password.
type Entry struct {
	// Vendor is the device maker, or "generic" for pairs tied to no vendor.
	Vendor string
	// Product names the product or component the credential belongs to;
	// empty for generic rows.
	Product string
	// User is the user name as the list spells it; empty means any user.
	User string
	// Source is the public document that names the credential.
	Source string
	// Line is the row's line number in its file, counting from 1.
	Line int
}

// String describes the entry without its password.
func (e Entry) String() string {
	user := e.User
	if user == "" {
		user = "(any user)"
	}
	var b strings.Builder
	b.WriteString(e.Vendor)
	if e.Product != "" {
		b.WriteString(" ")
		b.WriteString(e.Product)
	}
	b.WriteString(": user ")
	b.WriteString(user)
	b.WriteString(", password redacted")
	if e.Source != "" {
		b.WriteString(" (")
		b.WriteString(e.Source)
		b.WriteString(")")
	}
	return b.String()
}

// LogValue implements slog.LogValuer. The password is never part of an
// Entry; the attribute says so explicitly so readers of logs need not
// wonder.
func (e Entry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("vendor", e.Vendor),
		slog.String("product", e.Product),
		slog.String("user", e.User),
		slog.String("password", "[redacted]"),
		slog.String("source", e.Source),
		slog.Int("line", e.Line),
	)
}

type digest = [sha256.Size]byte

// List is a set of default credentials. The zero value is an empty list.
type List struct {
	entries []Entry
	// pairs maps the digest of (lower-cased user, password) to the index of
	// the first entry with that pair; rows with an empty user are stored
	// under the empty user.
	pairs map[digest]int
	// passwords holds the digest of every listed password on its own, for
	// IsWeakPassword.
	passwords map[digest]struct{}
}

// Defaults returns the list shipped with heir, parsed from the embedded
// defaults.csv. Each call parses afresh; callers keep the result.
//
// The embedded file is part of the source tree and checked by the
// package's tests, so a parse failure is a build defect, not an input
// error: Defaults panics rather than run with no list at all.
func Defaults() *List {
	l, err := Load(strings.NewReader(defaultsCSV))
	if err != nil {
		panic("credential: embedded defaults.csv: " + err.Error())
	}
	return l
}

// LineError is an error at one line of a list.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Load reads a credential list in CSV: a header line
// "vendor,product,user,password,source", then one credential per line.
// Lines starting with '#' are comments. Vendor must not be empty ("generic"
// for pairs tied to no vendor); an empty user means any user, an empty
// password means no password. Fields may not hold control characters and
// are at most MaxField bytes; at most MaxEntries rows are read. Errors name
// the offending line as a *LineError.
func Load(r io.Reader) (*List, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	l := &List{pairs: map[digest]int{}, passwords: map[digest]struct{}{}}
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &LineError{Line: pe.Line, Err: pe.Err}
			}
			return nil, fmt.Errorf("read credential list: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			}
			if !isHeader(rec) {
				return nil, &LineError{Line: line, Err: fmt.Errorf("want header %q", strings.Join(header, ","))}
			}
			continue
		}
		if len(rec) != len(header) {
			return nil, &LineError{Line: line, Err: fmt.Errorf("want %d fields (%s), got %d", len(header), strings.Join(header, ","), len(rec))}
		}
		for i, f := range rec {
			if err := checkField(f); err != nil {
				return nil, &LineError{Line: line, Err: fmt.Errorf("%s: %w", header[i], err)}
			}
		}
		if rec[0] == "" {
			return nil, &LineError{Line: line, Err: errors.New(`vendor is empty (use "generic" for pairs tied to no vendor)`)}
		}
		if len(l.entries) >= MaxEntries {
			return nil, &LineError{Line: line, Err: fmt.Errorf("more than %d entries", MaxEntries)}
		}
		e := Entry{Vendor: rec[0], Product: rec[1], User: rec[2], Source: rec[4], Line: line}
		k := pairKey(rec[2], rec[3])
		if _, dup := l.pairs[k]; !dup {
			l.pairs[k] = len(l.entries)
		}
		l.passwords[passwordKey(rec[3])] = struct{}{}
		l.entries = append(l.entries, e)
	}
	if first {
		return nil, &LineError{Line: 1, Err: fmt.Errorf("empty list: want header %q", strings.Join(header, ","))}
	}
	return l, nil
}

func isHeader(rec []string) bool {
	if len(rec) != len(header) {
		return false
	}
	for i, h := range header {
		if !strings.EqualFold(strings.TrimSpace(rec[i]), h) {
			return false
		}
	}
	return true
}

// checkField rejects what cannot be a typed credential or would break the
// digest's user/password separator.
func checkField(f string) error {
	if len(f) > MaxField {
		return fmt.Errorf("longer than %d bytes", MaxField)
	}
	if !utf8.ValidString(f) {
		return errors.New("not valid UTF-8")
	}
	for _, c := range f {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character %U", c)
		}
	}
	return nil
}

// Len returns the number of entries.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.entries)
}

// Entries returns a copy of the entries, in file order.
func (l *List) Entries() []Entry {
	if l == nil {
		return nil
	}
	return append([]Entry(nil), l.entries...)
}

// IsDefault says whether user and password are a listed pair: the user
// name compared case-insensitively, the password exactly. A row with an
// empty user matches any user.
func (l *List) IsDefault(user, password string) bool {
	_, ok := l.Match(user, password)
	return ok
}

// Match returns the entry listing user and password, preferring a row that
// names the user over one for any user, and the first such row in file
// order.
func (l *List) Match(user, password string) (Entry, bool) {
	if l == nil || len(l.pairs) == 0 || len(user) > MaxField || len(password) > MaxField {
		return Entry{}, false
	}
	if i, ok := l.pairs[pairKey(user, password)]; ok {
		return l.entries[i], true
	}
	if user != "" {
		if i, ok := l.pairs[pairKey("", password)]; ok {
			return l.entries[i], true
		}
	}
	return Entry{}, false
}

// IsWeakPassword says whether password is weak on its own, following the
// checks NIST SP 800-63B (section 5.1.1.2) asks verifiers to make: shorter
// than 8 characters, a single repeated character or a run of consecutive
// characters ("12345678", "abcdefgh", "87654321"), containing the user
// name, or any password of the list (values attackers are known to try).
// It is independent of IsDefault: a pair can be a default with a long
// password, and a weak password need not be anyone's default.
func (l *List) IsWeakPassword(user, password string) bool {
	if utf8.RuneCountInString(password) < 8 {
		return true
	}
	if repetitiveOrSequential(password) {
		return true
	}
	if len(user) >= 3 && strings.Contains(strings.ToLower(password), strings.ToLower(user)) {
		return true
	}
	if l != nil && len(password) <= MaxField {
		if _, ok := l.passwords[passwordKey(password)]; ok {
			return true
		}
	}
	return false
}

func repetitiveOrSequential(p string) bool {
	if len(p) < 2 {
		return true
	}
	same, up, down := true, true, true
	for i := 1; i < len(p); i++ {
		d := int(p[i]) - int(p[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	return same || up || down
}

// pairKey is the digest a pair is stored under. The user is lower-cased
// first so that "Admin" and "admin" meet; the NUL separator cannot occur
// in a listed field (checkField rejects control characters), so no two
// pairs share a preimage.
func pairKey(user, password string) digest {
	var buf [2*MaxField + 1]byte
	b := appendLower(buf[:0], user)
	b = append(b, 0)
	b = append(b, password...)
	d := sha256.Sum256(b)
	clear(b)
	return d
}

func passwordKey(password string) digest {
	var buf [MaxField]byte
	b := append(buf[:0], password...)
	d := sha256.Sum256(b)
	clear(b)
	return d
}

// appendLower appends s lower-cased, without allocating for ASCII.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// Merge returns a list of the entries of lists, in order. Where several
// rows give the same pair, Match returns the one from the earliest list,
// so a site's own list adds to the shipped one without changing its
// sources.
func Merge(lists ...*List) *List {
	out := &List{pairs: map[digest]int{}, passwords: map[digest]struct{}{}}
	for _, l := range lists {
		if l == nil {
			continue
		}
		offset := len(out.entries)
		out.entries = append(out.entries, l.entries...)
		for k, i := range l.pairs {
			if _, ok := out.pairs[k]; !ok {
				out.pairs[k] = offset + i
			}
		}
		for k := range l.passwords {
			out.passwords[k] = struct{}{}
		}
	}
	return out
}
