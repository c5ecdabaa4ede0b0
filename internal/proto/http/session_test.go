package httpproto

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

const (
	c2s = proto.ToServer
	s2c = proto.ToClient
)

// chunked encodes body in chunks of the given size, with an extension
// and a trailer to exercise both.
func chunked(body string, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x;ext=1\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\nX-Trailer: t\r\n\r\n")
	return b.String()
}

// conversation is a keep-alive exchange covering the framing rules: a
// 401 with a challenge, Basic auth, a POST with Expect/100-continue and a
// Content-Length body, a chunked FHIR response, HEAD with a length but no
// body, 204, 304, a chunked request, pipelining.
func conversation() []step {
	patient := `{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-01"}`
	return []step{
		{c2s, "GET /index.html HTTP/1.1\r\nHost: monitor.example.org\r\nUser-Agent: Mozilla/5.0 (Windows NT 6.1; Win64; x64)\r\n\r\n"},
		{s2c, "HTTP/1.1 401 Unauthorized\r\nServer: Apache/2.4.41 (Ubuntu)\r\nWWW-Authenticate: Basic realm=\"PM-8000\"\r\nContent-Length: 12\r\n\r\nUnauthorized"},
		{c2s, "GET /index.html HTTP/1.1\r\nHost: monitor.example.org\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n"},
		{s2c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"},
		{c2s, "POST /upload?patient=12345&token=s3cr3t&x=1 HTTP/1.1\r\nHost: monitor.example.org\r\nExpect: 100-continue\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n"},
		{s2c, "HTTP/1.1 100 Continue\r\n\r\n"},
		{c2s, "0123456789"},
		{s2c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"},
		{c2s, "GET /fhir/Patient/p1 HTTP/1.1\r\nHost: monitor.example.org\r\nAccept: application/fhir+json\r\n\r\n" +
			"HEAD /big HTTP/1.1\r\nHost: monitor.example.org\r\n\r\n" +
			"DELETE /x HTTP/1.1\r\nHost: monitor.example.org\r\n\r\n" +
			"GET /cached HTTP/1.1\r\nHost: monitor.example.org\r\n\r\n"},
		{s2c, "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json;charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(patient, 7) +
			"HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n" +
			"HTTP/1.1 204 No Content\r\n\r\n" +
			"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"},
		{c2s, "POST /api/data HTTP/1.1\r\nHost: monitor.example.org\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" + chunked("some request body", 5)},
		{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	}
}

func TestConversation(t *testing.T) {
	chk := &checker{user: "admin", password: "admin"}
	_, out := play(t, chk, conversation(), nil)
	obs := out.obs
	wantKinds := "request response request response request response request request request request response response response response request response"
	if got := strings.Join(kinds(obs), " "); got != wantKinds {
		t.Fatalf("kinds:\n got %s\nwant %s", got, wantKinds)
	}
	reqs, resps := requests(obs), responses(obs)
	if reqs[1].Auth != "basic" || reqs[1].User != "admin" {
		t.Errorf("basic auth request = %+v", reqs[1])
	}
	if chk.calls != 1 {
		t.Errorf("checker called %d times, want 1", chk.calls)
	}
	if got := strings.Join(reqs[2].Params, ","); got != "patient,token,x" {
		t.Errorf("params = %q", got)
	}
	if reqs[3].FHIR == nil || reqs[3].FHIR.Resource != "Patient" || reqs[3].FHIR.Operation != "read" || reqs[3].Path != "/fhir/Patient/{id}" {
		t.Errorf("FHIR read = %+v %+v", reqs[3], reqs[3].FHIR)
	}
	wantStatus := []int{401, 200, 201, 200, 200, 204, 304, 200}
	for i, r := range resps {
		if r.Status != wantStatus[i] {
			t.Errorf("response %d status %d, want %d", i, r.Status, wantStatus[i])
		}
	}
	if resps[0].Realm != "PM-8000" || len(resps[0].Challenges) != 1 || resps[0].Challenges[0] != "basic" {
		t.Errorf("challenge = %+v", resps[0])
	}
	// Pairing survives the 100 Continue and pipelining.
	wantPair := []string{"GET /index.html", "GET /index.html", "POST /upload", "GET /fhir/Patient/{id}", "HEAD /big", "DELETE /x", "GET /cached", "POST /api/data"}
	for i, r := range resps {
		if got := r.RequestMethod + " " + r.RequestPath; got != wantPair[i] {
			t.Errorf("response %d pairs with %q, want %q", i, got, wantPair[i])
		}
	}
	if f := resps[3].FHIR; f == nil || len(f.Body) != 1 || f.Body[0] != "Patient" {
		t.Errorf("FHIR response body = %+v", f)
	}
	for _, w := range []struct {
		kind  event.WeaknessKind
		about event.About
	}{
		{event.WeakCleartextLogin, event.AboutSrc},       // 401 Basic challenge
		{event.WeakCleartextCredentials, event.AboutDst}, // Basic and the token parameter, about the server
		{event.WeakDefaultCredentials, event.AboutSrc},   // admin/admin accepted with 200
		{event.WeakCleartextPHI, event.AboutSrc},         // Patient in the response
	} {
		if !hasWeakness(obs, w.kind, w.about) {
			t.Errorf("missing weakness %s about %s", w.kind, w.about)
		}
	}
	// Each weakness once per flow.
	seen := map[string]bool{}
	for _, w := range weaknesses(obs) {
		k := string(w.Kind) + w.Detail
		if seen[k] {
			t.Errorf("weakness reported twice: %+v", w)
		}
		seen[k] = true
	}
	js, _ := json.Marshal(obs)
	for _, secret := range []string{"YWRtaW46YWRtaW4", "admin:admin", "s3cr3t", "12345", "Jane", "Doe", "1970-01-01", "\"password\""} {
		if strings.Contains(string(js), secret) {
			t.Errorf("output contains %q", secret)
		}
	}
	if got := factsOf(obs, event.AttrOS); len(got) != 2 || got[0] != "src:Windows 7" || got[1] != "src:Ubuntu" {
		t.Errorf("OS facts = %v", got)
	}
	if got := factsOf(obs, event.AttrHostname); len(got) != 1 || got[0] != "dst:monitor.example.org" {
		t.Errorf("hostname facts = %v", got)
	}
	if got := factsOf(obs, event.AttrServer); strings.Join(got, ",") != "src:http,src:fhir" {
		t.Errorf("server facts = %v", got)
	}
}

// TestSplitEveryOffset cuts every step at every offset (and in two at
// once for the streams that carry bodies): the observations must not
// change.
func TestSplitEveryOffset(t *testing.T) {
	steps := conversation()
	_, whole := play(t, &checker{user: "admin", password: "admin"}, steps, nil)
	want := canon(t, whole.obs)
	for i := range steps {
		for k := 1; k < len(steps[i].data); k++ {
			_, out := play(t, &checker{user: "admin", password: "admin"}, steps, func(j int, _ string) []int {
				if j == i {
					return []int{k}
				}
				return nil
			})
			if got := canon(t, out.obs); got != want {
				t.Fatalf("step %d cut at %d:\n got %s\nwant %s", i, k, got, want)
			}
		}
	}
}

// TestRandomChunking feeds the conversation in random small pieces.
func TestRandomChunking(t *testing.T) {
	steps := conversation()
	_, whole := play(t, &checker{user: "admin", password: "admin"}, steps, nil)
	want := canon(t, whole.obs)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		_, out := play(t, &checker{user: "admin", password: "admin"}, steps, func(_ int, d string) []int {
			var cuts []int
			for k := rng.IntN(8); k < len(d); k += 1 + rng.IntN(16) {
				cuts = append(cuts, k)
			}
			return cuts
		})
		if got := canon(t, out.obs); got != want {
			t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
		}
	}
}

// TestBodiesSkippedUnseen checks that large bodies are skipped rather
// than held: Content-Length and chunked, in both directions.
func TestBodiesSkippedUnseen(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("POST /data HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"+big[:1000]))
	for i := 1000; i < len(big); i += 1400 {
		f.feed(c2s, []byte(big[i:min(i+1400, len(big))]))
	}
	f.feed(s2c, []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
	body := chunked(big, 64<<10)
	for i := 0; i < len(body); i += 1400 {
		f.feed(s2c, []byte(body[i:min(i+1400, len(body))]))
	}
	f.feed(c2s, []byte("GET /next HTTP/1.1\r\nHost: h\r\n\r\n"))
	f.feed(s2c, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	f.end()
	if f.skipped < 1<<20 {
		t.Errorf("skipped %d bytes unseen, want at least 1 MiB", f.skipped)
	}
	if f.maxHeld > 64 {
		t.Errorf("session held %d bytes, want small", f.maxHeld)
	}
	if got := strings.Join(kinds(out.obs), " "); got != "request response request response" {
		t.Errorf("kinds = %s", got)
	}
}

// TestResponseUntilClose: a response without length ends at End; a FHIR
// body in it is still sniffed.
func TestResponseUntilClose(t *testing.T) {
	_, out := play(t, nil, []step{
		{c2s, "GET /fhir/Observation?patient=1 HTTP/1.0\r\n\r\n"},
		{s2c, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[{\"resource\":{\"resourceType\":\"Observation\"}}]}"},
	}, nil)
	resps := responses(out.obs)
	if len(resps) != 1 || resps[0].FHIR == nil || resps[0].FHIR.BundleType != "searchset" {
		t.Fatalf("responses = %+v", resps)
	}
	if !hasWeakness(out.obs, event.WeakCleartextPHI, event.AboutSrc) {
		t.Error("no cleartext-phi for an Observation bundle")
	}
}

func TestHeaderTooLong(t *testing.T) {
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("GET / HTTP/1.1\r\nHost: h\r\n"))
	line := []byte("X-Filler: " + strings.Repeat("a", 1000) + "\r\n")
	for i := 0; i < 40 && !f.done; i++ {
		f.feed(c2s, line)
	}
	if !f.done {
		t.Fatal("session not done after a 40 KB header block")
	}
	f.end()
	if len(out.obs) != 1 || out.obs[0].Kind != KindSummary || !out.obs[0].Detail.(*Summary).HeaderTooLong {
		t.Fatalf("observations = %v", kinds(out.obs))
	}
}

// TestReportBound: beyond 32 pairs only the summary counts.
func TestReportBound(t *testing.T) {
	var reqs, resps strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&reqs, "GET /item/%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		status := 200
		if i%10 == 9 {
			status = 401
		}
		fmt.Fprintf(&resps, "HTTP/1.1 %d X\r\nContent-Length: 1\r\n\r\nx", status)
	}
	// Feed in rounds so that the pending queue never overflows.
	var steps []step
	rq, rs := strings.SplitAfter(reqs.String(), "\r\n\r\n"), strings.SplitAfter(resps.String(), "x")
	for i := 0; i < 40; i++ {
		steps = append(steps, step{c2s, rq[i]}, step{s2c, rs[i]})
	}
	_, out := play(t, nil, steps, nil)
	if n := len(requests(out.obs)); n != 32 {
		t.Errorf("%d requests reported, want 32", n)
	}
	if n := len(responses(out.obs)); n != 32 {
		t.Errorf("%d responses reported, want 32", n)
	}
	last := out.obs[len(out.obs)-1]
	sum, ok := last.Detail.(*Summary)
	if !ok {
		t.Fatalf("last observation is %s", last.Kind)
	}
	if sum.Requests != 40 || sum.RequestsUnreported != 8 || sum.ResponsesUnreported != 8 || sum.Unauthorized != 4 || sum.Status[1] != 36 {
		t.Errorf("summary = %+v", sum)
	}
}

// TestBeyondBoundNewWeakness: a weakness first seen after the bound is
// still reported.
func TestBeyondBoundNewWeakness(t *testing.T) {
	var steps []step
	for i := 0; i < 35; i++ {
		steps = append(steps, step{c2s, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"}, step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"})
	}
	steps = append(steps, step{c2s, "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n"})
	_, out := play(t, nil, steps, nil)
	if !hasWeakness(out.obs, event.WeakCleartextCredentials, event.AboutDst) {
		t.Fatal("bearer token after the bound not reported")
	}
	js, _ := json.Marshal(out.obs)
	if strings.Contains(string(js), "abc.def") {
		t.Error("token in output")
	}
}

func TestDefaultCredentialsRejected(t *testing.T) {
	chk := &checker{user: "admin", password: "admin"}
	_, out := play(t, chk, []step{
		{c2s, "GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n"},
		{s2c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"},
	}, nil)
	if hasWeakness(out.obs, event.WeakDefaultCredentials, event.AboutSrc) {
		t.Error("default credentials reported although the server refused them")
	}
	if !hasWeakness(out.obs, event.WeakCleartextCredentials, event.AboutDst) {
		t.Error("cleartext credentials not reported")
	}
	if chk.calls != 1 {
		t.Errorf("checker calls = %d", chk.calls)
	}
}

func TestDigest(t *testing.T) {
	_, out := play(t, nil, []step{
		{c2s, "GET /dir/index.html HTTP/1.1\r\nAuthorization: Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", algorithm=MD5, nonce=\"7ypf\", nc=00000001, cnonce=\"f2/wE4q\", qop=auth, response=\"8ca523f5e9506fed4657c9700eebdbec\", opaque=\"FQhe\"\r\n\r\n"},
	}, nil)
	r := requests(out.obs)[0]
	if r.Auth != "digest" || r.User != "Mufasa" || r.Realm != "http-auth@example.org" {
		t.Errorf("request = %+v", r)
	}
	if !hasWeakness(out.obs, event.WeakCleartextLogin, event.AboutDst) || hasWeakness(out.obs, event.WeakCleartextCredentials, event.AboutDst) {
		t.Errorf("weaknesses = %+v", weaknesses(out.obs))
	}
	if js, _ := json.Marshal(out.obs); strings.Contains(string(js), "8ca523f5") {
		t.Error("digest response in output")
	}
}

func TestGapInBodyKeepsFraming(t *testing.T) {
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789"))
	f.gap(c2s, 50)
	f.feed(c2s, []byte(strings.Repeat("y", 40)+"GET /b HTTP/1.1\r\n\r\n"))
	f.end()
	if got := requests(out.obs); len(got) != 2 || got[1].Path != "/b" {
		t.Fatalf("requests = %+v", got)
	}
}

func TestGapLosesFramingThenResyncs(t *testing.T) {
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("GET /a HTTP/1.1\r\nHost: h\r\n"))
	f.gap(c2s, 500)
	f.feed(c2s, []byte("ost: rest-of-a-lost-header\r\n\r\nGET /b HTTP/1.1\r\n\r\n"))
	f.feed(s2c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	f.end()
	reqs := requests(out.obs)
	if len(reqs) != 1 || reqs[0].Path != "/b" {
		t.Fatalf("requests = %+v", reqs)
	}
	resps := responses(out.obs)
	if len(resps) != 1 || resps[0].RequestMethod != "" {
		t.Errorf("response paired after a gap: %+v", resps)
	}
	sum := out.obs[len(out.obs)-1].Detail.(*Summary)
	if sum.Resyncs != 1 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestNonHTTPServer(t *testing.T) {
	// nmap's GET probe to a DICOM port: the answer is not HTTP.
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("GET / HTTP/1.0\r\n\r\n"))
	f.feed(s2c, []byte{0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x00})
	f.feed(c2s, []byte{0x01, 0x02})
	f.end()
	if got := strings.Join(kinds(out.obs), " "); got != "request summary" {
		t.Errorf("kinds = %s", got)
	}
	if len(factsOf(out.obs, event.AttrServer)) != 0 {
		t.Error("server fact for a non-HTTP answer")
	}
}

func TestConnectTunnel(t *testing.T) {
	f, out := newFeeder(t, nil)
	f.feed(c2s, []byte("CONNECT pacs.example.org:443 HTTP/1.1\r\nHost: pacs.example.org:443\r\n\r\n"))
	f.feed(s2c, []byte("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"))
	if !f.done {
		t.Error("session continues after a CONNECT tunnel opened")
	}
	f.end()
	reqs := requests(out.obs)
	if len(reqs) != 1 || reqs[0].Host != "pacs.example.org:443" || reqs[0].Path != "" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestTransactionBundleRequest(t *testing.T) {
	body := `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Roe"}]},"request":{"method":"POST","url":"Patient"}}]}`
	_, out := play(t, nil, []step{
		{c2s, fmt.Sprintf("POST /fhir HTTP/1.1\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)},
		{s2c, "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 2\r\n\r\n{}"},
	}, nil)
	r := requests(out.obs)[0]
	if r.FHIR == nil || r.FHIR.Operation != "batch" || r.FHIR.BundleType != "batch" {
		t.Fatalf("request FHIR = %+v", r.FHIR)
	}
	var phiSrc bool
	for _, o := range out.obs {
		for _, w := range o.Weaknesses {
			if w.Kind == event.WeakCleartextPHI && o.Kind == KindRequest {
				phiSrc = true
				if w.Detail != "FHIR Bundle with Patient resources in cleartext HTTP" {
					t.Errorf("detail %q", w.Detail)
				}
			}
		}
	}
	if !phiSrc {
		t.Error("no cleartext-phi on the client sending a Patient")
	}
}

func TestFHIRSearchByName(t *testing.T) {
	_, out := play(t, nil, []step{
		{c2s, "GET /fhir/Patient?family=Smith&birthdate=1980-02-02&_count=10 HTTP/1.1\r\nHost: fhir.example.org\r\n\r\n"},
	}, nil)
	ws := weaknesses(out.obs)
	if len(ws) != 1 || ws[0].Kind != event.WeakCleartextPHI || ws[0].Detail != "FHIR Patient search by family, birthdate in a cleartext URL" {
		t.Errorf("weaknesses = %+v", ws)
	}
	if js, _ := json.Marshal(out.obs); strings.Contains(string(js), "Smith") || strings.Contains(string(js), "1980") {
		t.Error("search values in output")
	}
}
