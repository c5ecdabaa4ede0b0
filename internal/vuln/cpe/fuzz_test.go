package cpe

import "testing"

// FuzzParse checks that any text parses or fails cleanly, that a parsed
// name binds back to a string that parses to the same name, and that a
// name always covers itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpe:2.3:a:jquery:jquery:3.1.1:*:*:*:*:*:*:*",
		"cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*",
		`cpe:2.3:a:foo\:bar:baz:1\.0:*:*:*:*:*:*:*`,
		"cpe:2.3:a:the_legion_of_the_bouncy_castle_inc.:bouncycastle:1.8.1:*:*:*:*:*:*:*",
		"cpe:2.3:h:qualcomm:atheros_qca9563:*:*:*:*:*:*:*:*",
		"cpe:2.3:a:*:windows??:*:*:*:*:*:*:*:*",
		"cpe:/a:apache:log4net:2.0.8", "cpe:/o:microsoft:windows_xp::sp3", "cpe:/a:a:b:c:d:~e~f~g~h~i",
		"cpe:/a:%41%01:b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(n.String())
		if err != nil {
			t.Fatalf("Parse(%q) gave %q which does not parse: %v", s, n.String(), err)
		}
		if back != n {
			t.Fatalf("round trip of %q: %q != %q", s, back.String(), n.String())
		}
		if ok, _ := Matches(n, n); !ok && !hasWildcardAttr(n) {
			t.Fatalf("%q does not cover itself", s)
		}
	})
}

func hasWildcardAttr(n Name) bool {
	for _, a := range n.attrs {
		if a != Any && hasWildcard(a) {
			return true
		}
	}
	return false
}
