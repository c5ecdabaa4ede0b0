package httpproto

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

func run(t *testing.T, c DefaultChecker, rel string) *sensortest.Result {
	t.Helper()
	path := testenv.DataFile(t, rel)
	return sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(c)}, path)
}

// tshark returns the lines tshark prints for filter and fields on file.
func tshark(t *testing.T, file, filter string, fields ...string) []string {
	t.Helper()
	bin := testenv.Tool(t, "tshark")
	args := []string{"-r", file, "-Y", filter, "-T", "fields"}
	if len(fields) == 0 {
		fields = []string{"frame.number"}
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// about resolves a fact's or weakness's About to an IP address.
func about(o *event.Observation, a event.About) string {
	if a == event.AboutSrc {
		return o.Src.IP.String()
	}
	return o.Dst.IP.String()
}

// findings lists "ip kind" for every weakness, and facts as "ip attr=value".
func findings(obs []*event.Observation) (weak, facts []string) {
	for _, o := range obs {
		for _, w := range o.Weaknesses {
			weak = append(weak, about(o, w.About)+" "+string(w.Kind))
		}
		for _, f := range o.Facts {
			facts = append(facts, about(o, f.About)+" "+string(f.Attr)+"="+f.Value)
		}
	}
	return weak, facts
}

func noSecrets(t *testing.T, obs []*event.Observation, secrets ...string) {
	t.Helper()
	js, err := json.Marshal(obs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(js), s) {
			t.Errorf("observations contain %q", s)
		}
	}
}

// TestCaptureHTTPAuth: nDPI's Basic-auth capture. The user name must match
// tshark's decoding of the Authorization header; the password must not
// appear anywhere.
func TestCaptureHTTPAuth(t *testing.T) {
	file := testenv.DataFile(t, "pcap/ndpi/http_auth.pcap")
	basic := tshark(t, file, "http.authorization", "http.authbasic")
	if len(basic) != 1 {
		t.Fatalf("tshark authbasic = %q", basic)
	}
	wantUser, password, _ := strings.Cut(basic[0], ":")
	ua := tshark(t, file, "http.request", "http.user_agent", "http.host")
	server := tshark(t, file, "http.response", "http.response.code", "http.server")

	// A checker that calls these very credentials default: the server
	// answered 401, so no default-credentials finding may follow.
	r := run(t, &checker{user: wantUser, password: password}, "pcap/ndpi/http_auth.pcap")
	reqs, resps := requests(r.Observations), responses(r.Observations)
	if len(reqs) != 1 || len(resps) != 1 {
		t.Fatalf("requests %d responses %d", len(reqs), len(resps))
	}
	if reqs[0].Auth != "basic" || reqs[0].User != wantUser || reqs[0].Path != "/password-ok.php" {
		t.Errorf("request = %+v", reqs[0])
	}
	if got := reqs[0].UserAgent + "\t" + reqs[0].Host; got != ua[0] {
		t.Errorf("user agent and host %q, tshark %q", got, ua[0])
	}
	if got := "401\t" + resps[0].Server; got != server[0] || resps[0].Status != 401 || !resps[0].Chunked {
		t.Errorf("response %+v, tshark %q", resps[0], server[0])
	}
	if resps[0].RequestPath != "/password-ok.php" || resps[0].Realm == "" {
		t.Errorf("response pairing/realm = %+v", resps[0])
	}
	weak, facts := findings(r.Observations)
	wantWeak := []string{"192.254.189.169 cleartext-credentials", "192.254.189.169 cleartext-login"}
	if !slices.Equal(weak, wantWeak) {
		t.Errorf("weaknesses %q, want %q", weak, wantWeak)
	}
	for _, f := range []string{
		"192.168.0.4 client=http", "192.254.189.169 server=http",
		"192.254.189.169 software=Apache", "192.254.189.169 hostname=browserspy.dk",
		"192.168.0.4 os=macOS 10.8.5",
	} {
		if !slices.Contains(facts, f) {
			t.Errorf("missing fact %q in %q", f, facts)
		}
	}
	noSecrets(t, r.Observations, password, basic[0])
}

// TestCaptureLabBasicAuth: the lab's benign-http-basic-auth window. A
// 401 without credentials, then two requests with the lab's default
// credentials (from the ground truth) that the server accepts.
func TestCaptureLabBasicAuth(t *testing.T) {
	file := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := groundTruth(t, "benign-http-basic-auth")
	var user, password string
	for _, f := range gt.Findings {
		if f.Type == "default-credentials" {
			user, password = f.Username, f.Password
		}
	}
	if user == "" {
		t.Fatal("ground truth names no default credential")
	}
	window := fmt.Sprintf(" && frame.time_epoch >= %.6f && frame.time_epoch <= %.6f", gt.Start, gt.End)
	authUsers := tshark(t, file, "http.authorization"+window, "http.authbasic")
	codes := tshark(t, file, "http.response"+window, "http.response.code")

	for _, withChecker := range []bool{true, false} {
		var c DefaultChecker
		if withChecker {
			c = &checker{user: user, password: password}
		}
		r := run(t, c, "pcap/lab/medlab-dev.pcap")
		var obs []*event.Observation
		for _, o := range r.Observations {
			if !o.Time.Before(gt.start()) && !o.Time.After(gt.end()) {
				obs = append(obs, o)
			}
		}
		reqs, resps := requests(obs), responses(obs)
		if len(reqs) != len(gt.Details.Requests) {
			t.Fatalf("%d requests in the window, ground truth %d", len(reqs), len(gt.Details.Requests))
		}
		var users []string
		for _, q := range reqs {
			if q.Auth == "basic" {
				users = append(users, q.User)
			}
		}
		var tsharkUsers []string
		for _, a := range authUsers {
			u, _, _ := strings.Cut(a, ":")
			tsharkUsers = append(tsharkUsers, u)
		}
		if !slices.Equal(users, tsharkUsers) {
			t.Errorf("basic users %q, tshark %q", users, tsharkUsers)
		}
		var got []string
		for _, p := range resps {
			got = append(got, itoa(p.Status))
		}
		if !slices.Equal(got, gt.Observed.HTTPCodes) || !slices.Equal(got, codes) {
			t.Errorf("status codes %q, ground truth %q, tshark %q", got, gt.Observed.HTTPCodes, codes)
		}
		if len(resps[0].Challenges) != 1 || resps[0].Challenges[0] != "basic" {
			t.Errorf("401 challenges = %v", resps[0].Challenges)
		}
		weak, _ := findings(obs)
		server := gt.DstIPs[0]
		want := []string{
			server + " cleartext-login",
			server + " cleartext-credentials",
			server + " cleartext-credentials",
		}
		if withChecker {
			want = []string{
				server + " cleartext-login",
				server + " cleartext-credentials",
				server + " default-credentials",
				server + " cleartext-credentials",
				server + " default-credentials",
			}
		}
		if !slices.Equal(weak, want) {
			t.Errorf("checker %v: weaknesses %q, want %q", withChecker, weak, want)
		}
		noSecrets(t, r.Observations, ":"+password, "YWRtaW46")
	}
}

// TestCaptureSQLInjection: the path is kept decoded, query values never.
func TestCaptureSQLInjection(t *testing.T) {
	file := testenv.DataFile(t, "pcap/ndpi/sql_injection.pcap")
	ts := tshark(t, file, "http.request", "http.request.uri.path", "http.request.uri.query.parameter")
	if len(ts) != 1 {
		t.Fatalf("tshark: %q", ts)
	}
	rawPath, params, _ := strings.Cut(ts[0], "\t")
	wantPath, err := url.PathUnescape(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	var wantNames []string
	var values []string
	for _, p := range strings.Split(params, ",") {
		name, v, _ := strings.Cut(p, "=")
		wantNames = append(wantNames, name)
		if dv, err := url.QueryUnescape(v); err == nil && len(dv) > 8 {
			values = append(values, v, dv)
		}
	}
	r := run(t, nil, "pcap/ndpi/sql_injection.pcap")
	reqs := requests(r.Observations)
	if len(reqs) != 1 || reqs[0].Path != wantPath || !slices.Equal(reqs[0].Params, wantNames) {
		t.Fatalf("requests = %+v, want path %q params %q", reqs, wantPath, wantNames)
	}
	resps := responses(r.Observations)
	if len(resps) != 1 || resps[0].Status != 200 || resps[0].Server != "Apache/2.4.41 (Ubuntu)" || resps[0].ContentLength != 1375 {
		t.Errorf("responses = %+v", resps)
	}
	_, facts := findings(r.Observations)
	for _, f := range []string{"192.168.3.107 os=Ubuntu", "192.168.3.109 os=Linux"} {
		if !slices.Contains(facts, f) {
			t.Errorf("missing fact %q in %q", f, facts)
		}
	}
	for _, f := range facts {
		if strings.Contains(f, "hostname=") {
			t.Errorf("hostname fact from an IP Host header: %s", f)
		}
	}
	noSecrets(t, r.Observations, append(values, "UNION", "text1")...)
}

// TestCaptureSOAP: a SOAP POST whose client stream arrives out of order,
// its 302, a copy of the request on another port, and an XML message on
// port 80 that is not HTTP and must not be claimed.
func TestCaptureSOAP(t *testing.T) {
	file := testenv.DataFile(t, "pcap/ndpi/soap.pcap")
	server := tshark(t, file, "http.response", "http.response.code", "http.server")
	r := run(t, nil, "pcap/ndpi/soap.pcap")
	reqs, resps := requests(r.Observations), responses(r.Observations)
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, q := range reqs {
		if q.Method != "POST" || q.Path != "/fwlink/" || q.Host != "go.microsoft.com" ||
			!slices.Equal(q.Params, []string{"LinkID", "clcid"}) || q.ContentType != "text/xml" || q.ContentLength != 3612 {
			t.Errorf("request = %+v", q)
		}
	}
	if len(resps) != 1 || itoa(resps[0].Status)+"\t"+resps[0].Server != server[0] || resps[0].RequestMethod != "POST" {
		t.Errorf("responses = %+v, tshark %q", resps, server)
	}
	for _, f := range r.Flows {
		if f.Server.Port == 56028 || f.Client.Port == 56028 {
			if f.Proto == "http" {
				t.Errorf("ZMessage flow claimed as http")
			}
		}
	}
}

// TestCaptureIPP: IPP is HTTP POST with Expect: 100-continue. nDPI names
// these flows HTTP.IPP (master HTTP, app IPP).
func TestCaptureIPP(t *testing.T) {
	file := testenv.DataFile(t, "pcap/ndpi/ipp.pcap")
	out, err := os.ReadFile(file + ".out")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "[proto: 7.6/HTTP.IPP]"); n != 3 {
		t.Errorf("nDPI calls %d flows HTTP.IPP, want 3", n)
	}
	posts := tshark(t, file, "http.request", "http.request.method", "http.content_type", "http.user_agent")
	finals := tshark(t, file, "http.response.code >= 200", "http.response.code", "http.server")
	r := run(t, nil, "pcap/ndpi/ipp.pcap")
	reqs, resps := requests(r.Observations), responses(r.Observations)
	if len(reqs) != len(posts) || len(resps) != len(finals) {
		t.Fatalf("requests %d responses %d, tshark %d %d", len(reqs), len(resps), len(posts), len(finals))
	}
	for i, q := range reqs {
		if got := q.Method + "\t" + q.ContentType + "\t" + q.UserAgent; got != posts[i] || q.Path != "/ipp/" {
			t.Errorf("request %d %q, tshark %q", i, got, posts[i])
		}
	}
	for i, p := range resps {
		if got := itoa(p.Status) + "\t" + p.Server; got != finals[i] || p.RequestPath != "/ipp/" || !p.Chunked {
			t.Errorf("response %d %+v, tshark %q", i, p, finals[i])
		}
	}
	if r.Stats.Flow.Skipped < 200000 {
		t.Errorf("only %d bytes skipped: the 227 kB print job should be skipped unseen", r.Stats.Flow.Skipped)
	}
}

// TestCaptureHTTPIPv6: despite its name the capture holds only TLS and
// QUIC (tshark finds no HTTP); nothing may be claimed.
func TestCaptureHTTPIPv6(t *testing.T) {
	file := testenv.DataFile(t, "pcap/ndpi/http_ipv6.pcap")
	if n := len(tshark(t, file, "http")); n != 0 {
		t.Fatalf("tshark finds %d HTTP frames", n)
	}
	r := run(t, nil, "pcap/ndpi/http_ipv6.pcap")
	if len(r.Observations) != 0 || r.Stats.Flow.Dissected != 0 {
		t.Errorf("%d observations, %d flows dissected", len(r.Observations), r.Stats.Flow.Dissected)
	}
}

// TestCaptureNoFalseClaims runs every nDPI capture: a flow claimed as
// HTTP must be in a capture where tshark sees HTTP, and every capture
// where tshark sees HTTP must yield observations.
func TestCaptureNoFalseClaims(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	withHTTP := map[string]bool{"http_auth.pcap": true, "ipp.pcap": true, "soap.pcap": true, "sql_injection.pcap": true}
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		name := filepath.Base(f)
		r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(nil)}, f)
		claimed := r.Stats.Flow.Dissected > 0
		if claimed != withHTTP[name] {
			t.Errorf("%s: claimed %d flows (%d observations)", name, r.Stats.Flow.Dissected, len(r.Observations))
		}
		if claimed && len(tshark(t, f, "http")) == 0 {
			t.Errorf("%s: claimed but tshark sees no HTTP", name)
		}
	}
}

type gtWindow struct {
	Label    string    `json:"label"`
	Start    float64   `json:"start"`
	End      float64   `json:"end"`
	SrcIPs   []string  `json:"src_ips"`
	DstIPs   []string  `json:"dst_ips"`
	Findings []gtFound `json:"expected_findings"`
	Details  struct {
		Requests []string `json:"requests"`
	} `json:"details"`
	Observed struct {
		HTTPCodes []string `json:"http_codes"`
	} `json:"observed"`
}

type gtFound struct {
	Type     string `json:"type"`
	Username string `json:"username"`
	Password string `json:"password"`
}

func (g *gtWindow) start() time.Time {
	return time.Unix(0, int64(g.Start*1e9)).Add(-time.Millisecond)
}

func (g *gtWindow) end() time.Time { return time.Unix(0, int64(g.End*1e9)).Add(time.Millisecond) }

func groundTruth(t *testing.T, label string) *gtWindow {
	t.Helper()
	f, err := os.Open(testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var w gtWindow
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("ground truth: %v", err)
		}
		if w.Label == label {
			return &w
		}
	}
	t.Fatalf("ground truth has no %s window", label)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
