package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

// Bounds on query parameters, so that hostile input costs little.
const (
	maxListValues = 50
	maxParamLen   = 256
	maxJSONBody   = 64 << 10
)

// params reads a request's query parameters, collecting every error so
// that one answer names all the bad fields, and refusing parameters the
// handler does not know (a typo must not silently widen a filter).
type params struct {
	q    url.Values
	used map[string]bool
	errs []FieldError
}

func newParams(r *http.Request) *params {
	return &params{q: r.URL.Query(), used: map[string]bool{}}
}

func (p *params) bad(name, format string, args ...any) {
	p.errs = append(p.errs, FieldError{Field: name, Detail: fmt.Sprintf(format, args...)})
}

func (p *params) raw(name string) string {
	p.used[name] = true
	vs := p.q[name]
	if len(vs) > 1 {
		p.bad(name, "give it once")
	}
	if len(vs) == 0 {
		return ""
	}
	if len(vs[0]) > maxParamLen {
		p.bad(name, "longer than %d bytes", maxParamLen)
		return ""
	}
	return vs[0]
}

// list reads a filter given as repeated parameters or comma-separated
// values; check, when set, validates each value.
func (p *params) list(name string, check func(string) error) []string {
	p.used[name] = true
	var out []string
	for _, v := range p.q[name] {
		for _, x := range strings.Split(v, ",") {
			x = strings.TrimSpace(x)
			if x == "" {
				continue
			}
			if len(x) > maxParamLen {
				p.bad(name, "a value is longer than %d bytes", maxParamLen)
				return nil
			}
			if check != nil {
				if err := check(x); err != nil {
					p.bad(name, "%v", err)
					continue
				}
			}
			out = append(out, x)
		}
	}
	if len(out) > maxListValues {
		p.bad(name, "at most %d values", maxListValues)
		return nil
	}
	return out
}

func (p *params) str(name string) string { return strings.TrimSpace(p.raw(name)) }

func (p *params) time(name string) time.Time {
	v := p.raw(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.bad(name, "want an RFC 3339 time such as 2026-11-28T00:00:00Z")
	}
	return t
}

func (p *params) boolean(name string) *bool {
	v := p.raw(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.bad(name, "want true or false")
		return nil
	}
	return &b
}

func (p *params) integer(name string, def, lo, hi int) int {
	v := p.raw(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.bad(name, "want a whole number from %d to %d", lo, hi)
		return def
	}
	return n
}

// number reads a decimal number in [lo, hi] (0 when absent).
func (p *params) number(name string, lo, hi float64) float64 {
	v := p.raw(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < lo || n > hi || n != n {
		p.bad(name, "want a number from %g to %g", lo, hi)
		return 0
	}
	return n
}

func (p *params) prefix(name string) netip.Prefix {
	v := p.raw(name)
	if v == "" {
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(v)
	if err != nil {
		if a, aerr := netip.ParseAddr(v); aerr == nil {
			return netip.PrefixFrom(a, a.BitLen())
		}
		p.bad(name, "want an address or a prefix such as 10.1.0.0/16")
		return netip.Prefix{}
	}
	return pf.Masked()
}

func (p *params) addr(name string) netip.Addr {
	v := p.raw(name)
	if v == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		p.bad(name, "want an IP address")
	}
	return a.Unmap()
}

func (p *params) tags(name string) []store.TagRef {
	var out []store.TagRef
	for _, v := range p.list(name, nil) {
		t, err := store.ParseTagRef(v)
		if err != nil {
			p.bad(name, "%q: want taxonomy:id, e.g. enisa-etl-2018:11", v)
			continue
		}
		out = append(out, t)
	}
	return out
}

// listOptions reads limit, cursor, sort and total.
func (p *params) listOptions(keys []string) store.ListOptions {
	var o store.ListOptions
	o.Limit = p.integer("limit", store.DefaultLimit, 1, store.MaxLimit)
	o.Cursor = p.raw("cursor")
	if len(o.Cursor) > maxParamLen {
		o.Cursor = ""
	}
	if v := p.raw("sort"); v != "" {
		srt, err := store.ParseSort(v, keys)
		if err != nil {
			p.bad("sort", "want one of %s, with - in front for descending", strings.Join(keys, ", "))
		}
		o.Sort = srt
	}
	if b := p.boolean("total"); b != nil {
		o.WithTotal = *b
	}
	return o
}

// done returns the collected errors, plus one for each unknown parameter.
func (p *params) done() error {
	var unknown []string
	for k := range p.q {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		p.bad(k, "unknown parameter")
	}
	if len(p.errs) == 0 {
		return nil
	}
	msg := make([]string, len(p.errs))
	for i, e := range p.errs {
		msg[i] = e.Field + ": " + e.Detail
	}
	return &inputError{msg: "bad query parameters: " + strings.Join(msg, "; "), fields: p.errs}
}

func oneOf(kind string, allowed []string) func(string) error {
	return func(v string) error {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("%s %q: want one of %s", kind, v, strings.Join(allowed, ", "))
		}
		return nil
	}
}

var (
	validSeverity = oneOf("severity", store.Severities)
	validState    = oneOf("state", store.FindingStates)
	validRole     = oneOf("role", store.Roles)
	validVulnStat = oneOf("status", store.VulnStatuses)
)

func validBand(v string) error {
	if v == "none" || store.ValidBand(v) {
		return nil
	}
	return fmt.Errorf("band %q: want one of low, medium, high, critical, none", v)
}

// readJSON decodes a JSON request body into v: Content-Type must be
// application/json (which a cross-site HTML form cannot send), the body
// is bounded, unknown fields are refused, and nothing may follow the
// value.
func readJSON(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJSONBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return &inputError{msg: "the body is not the JSON this endpoint takes: " + jsonErr(err)}
	}
	if dec.More() {
		return &inputError{msg: "the body holds more than one JSON value"}
	}
	if dec.InputOffset() > maxJSONBody {
		return errTooLarge
	}
	return nil
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	// Unknown-field errors quote the field name, which is what helps.
	return strings.TrimPrefix(err.Error(), "json: ")
}

var (
	errMediaType = errors.New("send Content-Type: application/json")
	errTooLarge  = errors.New("request body too large")
)

// writeJSON sends v as JSON. API answers are not cached: they hold
// hospital data and change all the time.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// List is one page of a list answer.
type List[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the following page (absent on the last).
	Next string `json:"next,omitempty"`
	// Total is the number of matching items, when total=true was asked.
	Total *int64 `json:"total,omitempty"`
}

func listOf[T any](p store.Page[T]) List[T] {
	l := List[T]{Items: p.Items, Next: p.Next}
	if l.Items == nil {
		l.Items = []T{}
	}
	if p.Total >= 0 {
		t := p.Total
		l.Total = &t
	}
	return l
}

// writeList sends a page with a Link header to the next one.
func writeList[T any](w http.ResponseWriter, r *http.Request, l List[T]) {
	if l.Next != "" {
		q := r.URL.Query()
		q.Set("cursor", l.Next)
		w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
	}
	writeJSON(w, http.StatusOK, l)
}
