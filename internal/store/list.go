package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ListOptions are the paging and ordering parameters every list takes.
// Lists page by keyset (the cursor holds the last row's sort value and
// id), so a page stays stable while rows are added and a deep page costs
// what the first does.
type ListOptions struct {
	// Limit is the page size: 0 means DefaultLimit; larger than MaxLimit
	// is cut to MaxLimit.
	Limit int
	// Cursor is the Next of the previous page ("" for the first page).
	Cursor string
	// Sort orders the list; the zero Sort is the list's default. Rows
	// with equal sort values are ordered by id, in the same direction.
	Sort Sort
	// WithTotal asks for the number of rows the filter matches (it costs
	// a count over them).
	WithTotal bool
}

// PageLimit is the effective page size.
func (o ListOptions) PageLimit() int {
	switch {
	case o.Limit <= 0:
		return DefaultLimit
	case o.Limit > MaxLimit:
		return MaxLimit
	}
	return o.Limit
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page, "" on the last page.
	Next string `json:"next,omitempty"`
	// Total is the number of matching rows, -1 unless WithTotal was set.
	Total int64 `json:"total"`
}

// Sort is a sort key and direction.
type Sort struct {
	Key  string
	Desc bool
}

// String is the form ParseSort reads: "key" or "-key".
func (s Sort) String() string {
	if s.Desc {
		return "-" + s.Key
	}
	return s.Key
}

// maxParam bounds the sort and cursor strings a client can send, so that
// parsing hostile input costs little.
const maxParam = 1024

// ParseSort reads "key", "+key" or "-key" (descending), checking the key
// against the list's keys. The empty string is the zero Sort (the list's
// default).
func ParseSort(s string, keys []string) (Sort, error) {
	if s == "" {
		return Sort{}, nil
	}
	if len(s) > maxParam {
		return Sort{}, fmt.Errorf("sort parameter longer than %d bytes: %w", maxParam, ErrInvalid)
	}
	var out Sort
	switch s[0] {
	case '-':
		out.Desc, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	if !slices.Contains(keys, s) {
		return Sort{}, fmt.Errorf("unknown sort key %q (want one of %s, optionally prefixed by - for descending): %w",
			s, strings.Join(keys, ", "), ErrInvalid)
	}
	out.Key = s
	return out, nil
}

// Resolve returns the sort to use: the list's default (its first key,
// descending) for the zero Sort, else s after checking its key.
func (s Sort) Resolve(keys []string) (Sort, error) {
	if s.Key == "" {
		return Sort{Key: keys[0], Desc: true}, nil
	}
	if !slices.Contains(keys, s.Key) {
		return Sort{}, fmt.Errorf("unknown sort key %q: %w", s.Key, ErrInvalid)
	}
	return s, nil
}

// Cursor is the decoded position after the last row of a page: that
// row's sort value (a number or a text, by key) and id.
type Cursor struct {
	Sort string  `json:"s"`
	Int  *int64  `json:"n,omitempty"`
	Text *string `json:"t,omitempty"`
	ID   string  `json:"id"`
}

// Encode makes the opaque string clients send back.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c) // a struct of strings and ints cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor and checks it was made for this sort order
// and carries exactly one sort value of the expected kind (numeric
// says which).
func DecodeCursor(s string, sort Sort, numeric bool) (Cursor, error) {
	if len(s) > maxParam {
		return Cursor{}, fmt.Errorf("cursor longer than %d bytes: %w", maxParam, ErrBadCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor encoding: %w", ErrBadCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Cursor
	if err := dec.Decode(&c); err != nil || dec.More() {
		return Cursor{}, fmt.Errorf("cursor content: %w", ErrBadCursor)
	}
	switch {
	case c.Sort != sort.String():
		return Cursor{}, fmt.Errorf("cursor of sort %q used with sort %q: %w", c.Sort, sort.String(), ErrBadCursor)
	case numeric && (c.Int == nil || c.Text != nil):
		return Cursor{}, fmt.Errorf("cursor without a numeric position: %w", ErrBadCursor)
	case !numeric && (c.Text == nil || c.Int != nil):
		return Cursor{}, fmt.Errorf("cursor without a text position: %w", ErrBadCursor)
	}
	return c, nil
}
