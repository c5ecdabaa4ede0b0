package version

import "testing"

// FuzzParseRange checks that any rule text parses without panicking, that
// its intervals are readable, and that the version order stays a total
// order on the versions fed with it.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"< 8.2.2", ">= 4.0 | <= 4.6", "V2.3.1 SP4 and prior", "12.x", "<= 12.2.x.x",
		"vers:generic/>=1.0|<2.0|!=1.5", "vers:all/*", "<  july 1 2017", "A10 < A11",
		"6.x (Wireless Battery Modules (16 | 16D38 | >= 20D29))", "< 1.8.4 Service Pack 01",
		"<=2023.3_Build_9342", "prior to 5.3", "1.0 to 2.0", "all versions",
	} {
		f.Add(s, "2.3.1 SP4", "1.0.0-rc1")
	}
	f.Fuzz(func(t *testing.T, rule, a, b string) {
		r := ParseRange(rule)
		if r.All && r.Unparsed != "" {
			t.Fatalf("range both all and unparsed: %+v", r)
		}
		s := r.Compile()
		va, vb := Parse(a), Parse(b)
		_ = s.Contains(va)
		ab, ba := Compare(va, vb), Compare(vb, va)
		if ab != -ba {
			t.Fatalf("Compare not antisymmetric: %q %q: %d %d", a, b, ab, ba)
		}
		if Compare(va, va) != 0 {
			t.Fatalf("Compare(%q, itself) != 0", a)
		}
		// An empty version is unknown, not version 0: Contains says so
		// even though it compares equal to "0".
		if ab == 0 && !va.IsZero() && !vb.IsZero() && s.Contains(va) != s.Contains(vb) {
			t.Fatalf("equal versions %q %q differ in %q", a, b, rule)
		}
	})
}

// FuzzCompareTransitive checks transitivity on three versions.
func FuzzCompareTransitive(f *testing.F) {
	f.Add("1.0", "1.0.0-rc1", "1.0 SP1")
	f.Add("B.06.18", "B.12", "A.03")
	f.Add("2.4A", "2.4", "2.4.1")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		va, vb, vc := Parse(a), Parse(b), Parse(c)
		if Compare(va, vb) <= 0 && Compare(vb, vc) <= 0 && Compare(va, vc) > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
	})
}
