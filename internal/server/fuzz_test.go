package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/store"
)

// FuzzQuery feeds hostile query strings through the list parameter
// parsers: they never panic, every error names a field, and accepted
// values respect the bounds.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"role=infusion-pump&band=high,critical&sort=-risk&limit=10&total=true",
		"network=10.1.0.0/16&seen_after=2026-11-28T00:00:00Z&q=pump",
		"tag=enisa-etl-2018:11&tag=owasp-2021:A02&state=open,fixed",
		"ip=fe80::1%25eth0&since=2026-01-01T00:00:00%2B01:00",
		"limit=0&limit=1001&sort=&cursor=" + strings.Repeat("A", 300),
		"band=,,,&role=%00&network=10.0.0.300/8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/v1/assets", nil)
		r.URL.RawQuery = raw
		p := newParams(r)
		o := p.listOptions(store.AssetSortKeys)
		roles := p.list("role", nil)
		bands := p.list("band", validBand)
		p.prefix("network")
		p.time("seen_after")
		p.addr("ip")
		tags := p.tags("tag")
		p.str("q")
		err := p.done()
		if o.Limit < 1 || o.Limit > store.MaxLimit || len(o.Cursor) > maxParamLen {
			t.Fatalf("limit %d cursor %d", o.Limit, len(o.Cursor))
		}
		if len(roles) > maxListValues || len(bands) > maxListValues {
			t.Fatal("too many values accepted")
		}
		for _, b := range bands {
			if validBand(b) != nil {
				t.Fatalf("band %q accepted", b)
			}
		}
		for _, tg := range tags {
			if tg.Taxonomy == "" || tg.ID == "" {
				t.Fatalf("tag %+v", tg)
			}
		}
		if err != nil {
			ie, ok := err.(*inputError)
			if !ok || len(ie.fields) == 0 {
				t.Fatalf("error without fields: %v", err)
			}
		}
	})
}

// FuzzReadJSON: request bodies never panic the decoder, and a body is
// either a whole valid TriageRequest or refused.
func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{`{"state":"accepted","comment":"x"}`, `{"state":1}`, `{} {}`, `{"state":"open","x":1}`, `[`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var tr TriageRequest
		_ = readJSON(r, &tr)
	})
}

// FuzzSafeNext: whatever comes in, the redirect stays on this node.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/devices?band=high", "//evil.example", "/\\evil", "https://evil", "/%2F%2Fevil", "/a\r\nSet-Cookie: x", " /x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || strings.ContainsAny(got, "\r\n") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		// What a browser would resolve it to stays on the node.
		base, _ := url.Parse("https://node.example/auth/login")
		u, err := base.Parse(got)
		if err != nil || u.Host != "node.example" {
			t.Fatalf("safeNext(%q) = %q resolves to %v", next, got, u)
		}
		// And the Location header is exactly it.
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("GET", "/", nil), got, http.StatusSeeOther)
		if loc := w.Header().Get("Location"); loc != "" {
			if lu, err := base.Parse(loc); err != nil || lu.Host != "node.example" {
				t.Fatalf("Location %q for %q", loc, next)
			}
		}
	})
}
