package version

import (
	"testing"
)

func TestCompare(t *testing.T) {
	// Each pair is written by hand from what the version's author means.
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0.0", 0},
		{"1.2.10", "1.2.9", 1},
		{"V2.3.1 SP4", "2.3.1", 1},
		{"V2.3.1 SP4", "v2.3.1 sp5", -1},
		{"V2.3.1 SP4", "2.3.2", -1},
		{"2.3.1 Service Pack 4", "2.3.1 SP4", 0},
		{"4.2.1 Build 1234", "4.2.1.1234", 0},
		{"4.2.1 Build 1234", "4.2.1 Build 1300", -1},
		{"R2.4", "2.4", 0},
		{"R2.4", "R2.10", -1},
		{"10.0.19041", "10.0.17763", 1},
		{"1.0.0-rc1", "1.0.0", -1},
		{"1.0.0-beta", "1.0.0-rc1", -1},
		{"1.0.0-alpha", "1.0.0-beta", -1},
		{"B.06.18", "B.12", -1},
		{"A.03.09", "B.01", -1},
		{"2.4A", "2.4", 1},
		{"2.4A", "2.4B", -1},
		{"Version 8.2.2", "8.2.2", 0},
		{"8.2.1", "Version 8.2.2", -1},
		{"r0.13", "0.13", 0},
		{"5.17.1-754993421", "5.17.1", 1},
		{"2023.3_Build_9342", "2023.3.9342", 0},
		{"K", "L", -1},
		{"3.0.1.0", "3.0.1", 0},
		{"12.2.1.5", "12.2.1", 1},
	}
	for _, tt := range tests {
		got := Compare(Parse(tt.a), Parse(tt.b))
		if got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if back := Compare(Parse(tt.b), Parse(tt.a)); back != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, back, -tt.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		rule     string
		in, out  []string
		all      bool
		unparsed bool
		note     string
	}{
		{rule: "< 8.2.2", in: []string{"8.2.1", "Version 8.1", "8.2.1 SP9"}, out: []string{"8.2.2", "9"}},
		{rule: "<= 3.2", in: []string{"3.2", "3.2.0", "1"}, out: []string{"3.2.1", "3.3"}},
		{rule: ">= 4.0 | <= 4.6", in: []string{"4.0", "4.3.2", "4.6"}, out: []string{"3.9", "4.6.1", "5"}},
		{rule: ">= 1.3.4 | < 1.5.3", in: []string{"1.3.4", "1.5.2"}, out: []string{"1.5.3", "1.3.3"}},
		{rule: "3.0|3.1", in: []string{"3.0", "3.1.0"}, out: []string{"3.2", "3.0.1"}},
		{rule: "<= U61 |<= L81", in: []string{"L80", "U10"}, out: []string{"U62"}},
		{rule: "V2.3.1 SP4 and prior", in: []string{"2.3.1 SP3", "2.3.1", "2.2"}, out: []string{"2.3.1 SP5", "2.3.2"}},
		{rule: "2.3.6 and  below", in: []string{"2.3.6", "2.0"}, out: []string{"2.3.7"}},
		{rule: "prior to 5.3", in: []string{"5.2.9"}, out: []string{"5.3"}},
		{rule: "12.x", in: []string{"12", "12.0", "12.4.1"}, out: []string{"11.9", "13.0", "120"}},
		{rule: "<= 12.2.x.x", in: []string{"12.2.9.1", "11"}, out: []string{"12.3"}},
		{rule: "< 1.8.4 Service Pack 01", in: []string{"1.8.4", "1.8.3 SP9"}, out: []string{"1.8.4 SP1", "1.8.5"}},
		{rule: "<= 1.54 (integrated into GE MobileLink)", in: []string{"1.54"}, out: []string{"1.55"}, note: "integrated into ge mobilelink"},
		{rule: "<=11.2 on Windows 8.1 with IIS 7.5", in: []string{"11.2"}, out: []string{"11.3"}, note: "on windows 8.1 with iis 7.5"},
		{rule: "6.x (Wireless Battery Modules (16 | 16D38 | >= 20D29))", in: []string{"6.2"}, out: []string{"7.0"}},
		{rule: ">=BT02 | <= BT06", in: []string{"BT03", "BT06"}, out: []string{"BT01", "BT07"}},
		{rule: "vers:all/*", all: true},
		{rule: "vers:generic/>=1.0|<2.0", in: []string{"1.5"}, out: []string{"2.0", "0.9"}},
		{rule: "vers:npm/1.2.3|2.0.0", in: []string{"2.0.0"}, out: []string{"1.2.4"}},
		{rule: "All versions", all: true},
		{rule: "* (end-of-life 2011)", all: true},
		{rule: "<  july 1 2017", unparsed: true},
		{rule: "<8/30/2024", unparsed: true},
		{rule: "882160 Gemini Dual", unparsed: true},
		{rule: "053L000091 (global) / 054U000091 (U.S.)", unparsed: true},
		{rule: "", unparsed: true},
	}
	for _, tt := range tests {
		r := ParseRange(tt.rule)
		if r.All != tt.all || (r.Unparsed != "") != tt.unparsed {
			t.Errorf("ParseRange(%q) = %+v; want all=%v unparsed=%v", tt.rule, r, tt.all, tt.unparsed)
			continue
		}
		if tt.note != "" && r.Note != tt.note {
			t.Errorf("ParseRange(%q).Note = %q, want %q", tt.rule, r.Note, tt.note)
		}
		s := r.Compile()
		for _, v := range tt.in {
			if got := s.Contains(Parse(v)); got != In {
				t.Errorf("%q contains %q = %v, want in (%+v)", tt.rule, v, got, r)
			}
		}
		for _, v := range tt.out {
			if got := s.Contains(Parse(v)); got != Out {
				t.Errorf("%q contains %q = %v, want out (%+v)", tt.rule, v, got, r)
			}
		}
		if tt.unparsed {
			if got := s.Contains(Parse("1.0")); got != Unknown {
				t.Errorf("unreadable %q contains 1.0 = %v, want unknown", tt.rule, got)
			}
		}
	}
}

func TestFromBounds(t *testing.T) {
	s := FromBounds("*", "1.2", "", "", "3.5.0").Compile()
	for v, want := range map[string]Verdict{"1.2": In, "3.4.9": In, "3.5.0": Out, "1.1.9": Out, "": Unknown} {
		if got := s.Contains(Parse(v)); got != want {
			t.Errorf("[1.2, 3.5.0) contains %q = %v, want %v", v, got, want)
		}
	}
	if got := FromBounds("4.8.1", "", "", "", "").Compile().Contains(Parse("4.8.1")); got != In {
		t.Errorf("exact 4.8.1: %v", got)
	}
	if !FromBounds("*", "", "", "", "").All {
		t.Error("no bounds should be every version")
	}
}

func TestContainsUnknownVersion(t *testing.T) {
	if got := ParseRange("< 2").Compile().Contains(Version{}); got != Unknown {
		t.Errorf("empty version: %v, want unknown", got)
	}
	if got := ParseRange("all versions").Compile().Contains(Version{}); got != In {
		t.Errorf("empty version in all: %v, want in", got)
	}
}
