package cpe

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string][3]string{ // vendor, product, version as Get returns them
		"cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*:*":                                     {"jquery", "jquery", "3.1.1"},
		"cpe:2.3:a:newtonsoft:json.net:*:*:*:*:*:*:*:*":                                   {"newtonsoft", "json.net", ""},
		"cpe:2.3:a:the_legion_of_the_bouncy_castle_inc.:bouncycastle:1.8.1:*:*:*:*:*:*:*": {"the_legion_of_the_bouncy_castle_inc.", "bouncycastle", "1.8.1"},
		"cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*":                                 {"microsoft", "windows_7", "-"},
		`cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*`:          {"hp", "insight_diagnostics", "7.4.0.1570"},
		`cpe:2.3:a:foo\:bar:baz:1\.0:*:*:*:*:*:*:*`:                                       {"foo:bar", "baz", "1.0"},
		"cpe:/a:apache:log4net:2.0.8":                                                     {"apache", "log4net", "2.0.8"},
		"cpe:/o:microsoft:windows_xp::sp3":                                                {"microsoft", "windows_xp", ""},
	}
	for s, want := range good {
		n, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		got := [3]string{n.Get(Vendor), n.Get(Product), n.Get(Version)}
		if got != want {
			t.Errorf("Parse(%q) = %q, want %q", s, got, want)
		}
	}
	bad := []string{
		"cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*",     // 10 attributes
		"cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*:*:*", // 12
		"cpe:2.3:x:jquery:jquery:3.1.1:*:*:*:*:*:*:*",   // bad part
		"cpe:2.3:a:jq uery:jquery:3.1.1:*:*:*:*:*:*:*",  // space
		"cpe:2.3:a:jquery::3.1.1:*:*:*:*:*:*:*",         // empty
		"cpe:2.3:a:jquery:jq*ery:3.1.1:*:*:*:*:*:*:*",   // inner wildcard
		"cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*:\\",  // lone backslash
		"cpe:2.2:a:jquery",                              // unknown binding
		"cpe:/a:jquery:jquery:1:2:3:4:5",                // too many URI parts
	}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", s, err)
		}
	}
}

func TestCompareAttr(t *testing.T) {
	tests := []struct {
		src, tgt string
		want     Relation
	}{
		{"*", "*", Equal},
		{"*", "jquery", Superset},
		{"jquery", "*", Subset},
		{"-", "-", Equal},
		{"-", "sp1", Disjoint},
		{"sp1", "-", Disjoint},
		{"jquery", "JQuery", Equal},
		{"jquery", "jquery_ui", Disjoint},
		{"windows*", "windows_7", Superset},
		{"*_7", "windows_7", Superset},
		{"windows_?", "windows_7", Superset},
		{"windows_?", "windows_10", Disjoint},
		{"json\\.net", "json.net", Equal},
	}
	for _, tt := range tests {
		if got := CompareAttr(tt.src, tt.tgt); got != tt.want {
			t.Errorf("CompareAttr(%q, %q) = %v, want %v", tt.src, tt.tgt, got, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	src := MustParse("cpe:2.3:a:jquery:jquery:*:*:*:*:*:node.js:*:*")
	if ok, loose := Matches(src, MustParse("cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*:*"), Version); !ok || len(loose) != 1 || loose[0] != "target_sw" {
		t.Errorf("target_sw unknown on the device: ok=%v loose=%v, want a loose match on target_sw", ok, loose)
	}
	if ok, _ := Matches(src, MustParse("cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:wordpress:*:*"), Version); ok {
		t.Error("different target_sw matched")
	}
	if ok, _ := Matches(MustParse("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*"), MustParse("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:x64:*")); !ok {
		t.Error("windows 7 sp1 x64 should be covered by windows 7 sp1")
	}
}
