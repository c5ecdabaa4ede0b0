package store

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestParseSort(t *testing.T) {
	keys := []string{"risk", "vendor", "last_seen"}
	cases := []struct {
		in   string
		want Sort
		err  bool
	}{
		{"", Sort{}, false},
		{"risk", Sort{Key: "risk"}, false},
		{"+vendor", Sort{Key: "vendor"}, false},
		{"-last_seen", Sort{Key: "last_seen", Desc: true}, false},
		{"--risk", Sort{}, true},
		{"-", Sort{}, true},
		{"Risk", Sort{}, true},
		{"risk ", Sort{}, true},
		{"doc", Sort{}, true},
		{"risk,vendor", Sort{}, true},
		{"-risk; DROP TABLE assets", Sort{}, true},
	}
	for _, tc := range cases {
		got, err := ParseSort(tc.in, keys)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSort(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSort(%q) error %v is not ErrInvalid", tc.in, err)
		}
	}
	if got, _ := (Sort{}).Resolve(keys); got != (Sort{Key: "risk", Desc: true}) {
		t.Errorf("default sort %+v, want -risk", got)
	}
	if _, err := (Sort{Key: "nope"}).Resolve(keys); !errors.Is(err, ErrInvalid) {
		t.Errorf("resolving an unknown key: %v", err)
	}
}

func TestCursor(t *testing.T) {
	n, s := int64(-42), "Philips"
	srt := Sort{Key: "risk", Desc: true}
	c := Cursor{Sort: "-risk", Int: &n, ID: "a01"}
	got, err := DecodeCursor(c.Encode(), srt, true)
	if err != nil || *got.Int != -42 || got.ID != "a01" || got.Text != nil {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// The wire form is base64url JSON: pin it, clients keep cursors.
	if want := base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":-42,"id":"a01"}`)); c.Encode() != want {
		t.Errorf("encoded cursor %s, want %s", c.Encode(), want)
	}
	text := Cursor{Sort: "vendor", Text: &s, ID: "a05"}
	bad := []struct {
		name    string
		in      string
		sort    Sort
		numeric bool
	}{
		{"other sort", c.Encode(), Sort{Key: "risk"}, true},
		{"text for a number", text.Encode(), Sort{Key: "vendor"}, true},
		{"number for a text", c.Encode(), srt, false},
		{"not base64", "!!!", srt, true},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("risk:5")), srt, true},
		{"unknown field", base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":1,"id":"x","x":1}`)), srt, true},
		{"trailing data", base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":1,"id":"x"}{}`)), srt, true},
		{"both values", base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":1,"t":"a","id":"x"}`)), srt, true},
		{"too long", string(make([]byte, 5000)), srt, true},
	}
	for _, tc := range bad {
		if _, err := DecodeCursor(tc.in, tc.sort, tc.numeric); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: %v, want ErrBadCursor", tc.name, err)
		}
	}
	if _, err := DecodeCursor(text.Encode(), Sort{Key: "vendor"}, false); err != nil {
		t.Errorf("text cursor: %v", err)
	}
}

func TestPageLimit(t *testing.T) {
	for in, want := range map[int]int{-1: DefaultLimit, 0: DefaultLimit, 1: 1, 999: 999, MaxLimit: MaxLimit, MaxLimit + 1: MaxLimit} {
		if got := (ListOptions{Limit: in}).PageLimit(); got != want {
			t.Errorf("limit %d: %d, want %d", in, got, want)
		}
	}
}

func TestParseTagRef(t *testing.T) {
	good := map[string]TagRef{
		"enisa-etl-2018:11": {Taxonomy: "enisa-etl-2018", ID: "11"},
		"attack:T1078.001":  {Taxonomy: "attack", ID: "T1078.001"},
		"x:a:b":             {Taxonomy: "x", ID: "a:b"},
	}
	for in, want := range good {
		if got, err := ParseTagRef(in); err != nil || got != want {
			t.Errorf("ParseTagRef(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "11", ":11", "owasp-2021:", ":"} {
		if _, err := ParseTagRef(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTagRef(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParseSort(f *testing.F) {
	for _, s := range []string{"", "risk", "-risk", "+vendor", "--risk", "-", "last_seen", "-last_seen,vendor", "\x00", "risk\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseSort(in, AssetSortKeys)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if in == "" {
			if got != (Sort{}) {
				t.Fatalf("empty sort parsed as %+v", got)
			}
			return
		}
		again, err := ParseSort(got.String(), AssetSortKeys)
		if err != nil || again != got {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", in, got, got.String(), again, err)
		}
		if _, err := got.Resolve(AssetSortKeys); err != nil {
			t.Fatalf("parsed sort %+v does not resolve: %v", got, err)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	n, s := int64(7), "BBraun"
	f.Add(Cursor{Sort: "-risk", Int: &n, ID: "a01"}.Encode(), "-risk", true)
	f.Add(Cursor{Sort: "vendor", Text: &s, ID: "a03"}.Encode(), "vendor", false)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":1e400,"id":"x"}`)), "-risk", true)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-risk","n":null,"t":"a","id":"x"}`)), "-risk", false)
	f.Add("", "risk", true)
	f.Add("e30", "risk", false)
	f.Fuzz(func(t *testing.T, in, sortParam string, numeric bool) {
		srt, err := ParseSort(sortParam, AssetSortKeys)
		if err != nil {
			return
		}
		c, err := DecodeCursor(in, srt, numeric)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if c.Sort != srt.String() || (c.Int != nil) != numeric || (c.Text != nil) == numeric {
			t.Fatalf("accepted cursor %+v for sort %q numeric %v", c, srt.String(), numeric)
		}
		again, err := DecodeCursor(c.Encode(), srt, numeric)
		if err != nil || again.ID != c.ID || again.Sort != c.Sort {
			t.Fatalf("re-encoded cursor does not decode alike: %+v, %v", again, err)
		}
	})
}

func FuzzParseTagRef(f *testing.F) {
	for _, s := range []string{"enisa-etl-2018:11", "owasp-2021:A02", "attack:T1078.001", ":", "a:", ":b", "x:a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseTagRef(in)
		if err != nil {
			return
		}
		if r.Taxonomy == "" || r.ID == "" || r.Taxonomy+":"+r.ID != in {
			t.Fatalf("%q parsed as %+v", in, r)
		}
	})
}
