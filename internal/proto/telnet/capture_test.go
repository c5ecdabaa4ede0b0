package telnet

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestNDPITelnet runs nDPI's telnet.pcap. tshark's "follow,tcp,ascii,0"
// shows the client typing "fake" at "login: " and "user" at "Password:",
// then "Last login: …", an OpenBSD 2.6-beta message of the day and a "$ "
// prompt; nDPI's own output names the user name, which the test reads
// from the .out file beside the capture.
func TestNDPITelnet(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/telnet.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(credential.Defaults())}, path)
	if k := res.Kinds(); k["telnet/banner"] != 1 || k["telnet/login"] != 1 {
		t.Fatalf("kinds %v", k)
	}
	wantUser := ndpiField(t, path+".out", `\[Username: ([^\]]+)\]`)
	var banner, login *event.Observation
	for _, o := range res.Observations {
		switch o.Kind {
		case "banner":
			banner = o
		case "login":
			login = o
		}
	}
	ld := login.Detail.(*LoginDetail)
	if ld.User != wantUser || ld.User != "fake" || ld.Outcome != OutcomeSuccess || !ld.PasswordSent || ld.DefaultCredential {
		t.Errorf("login %+v, nDPI says user %q", ld, wantUser)
	}
	if login.Dst.Port != 23 || login.Src.Port != 1550 {
		t.Errorf("login %v -> %v", login.Src, login.Dst)
	}
	if !hasWeakness(banner, event.WeakCleartextLogin) || !hasWeakness(login, event.WeakCleartextCredentials) {
		t.Error("cleartext weaknesses missing")
	}
	if !hasFact(banner, event.AttrOS, "OpenBSD") || !hasFact(login, event.AttrOS, "OpenBSD 2.6-beta") {
		t.Errorf("OS facts: banner %+v login %+v", banner.Facts, login.Facts)
	}
	bd := banner.Detail.(*BannerDetail)
	if bd.TerminalType != "xterm-color" || bd.WindowCols != 80 || bd.WindowRows != 32 {
		t.Errorf("terminal %q %dx%d", bd.TerminalType, bd.WindowCols, bd.WindowRows)
	}
	if !slices.Contains(bd.ClientWill, "terminal-type") || !slices.Contains(bd.ServerDo, "naws") {
		t.Errorf("options %+v", bd)
	}
}

func ndpiField(t *testing.T, path, expr string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read nDPI output: %v", err)
	}
	m := regexp.MustCompile(expr).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no match for %s", path, expr)
	}
	return string(m[1])
}

// window is one activity of the lab capture's ground truth.
type window struct {
	Label            string    `json:"label"`
	Start            float64   `json:"start"`
	End              float64   `json:"end"`
	SrcIPs           []string  `json:"src_ips"`
	DstIPs           []string  `json:"dst_ips"`
	ExpectedFindings []finding `json:"expected_findings"`
	Details          struct {
		LoginSuccess    bool     `json:"login_success"`
		Sessions        int      `json:"sessions"`
		Users           []string `json:"users"`
		Passwords       []string `json:"passwords"`
		MaxAttempts     int      `json:"max_attempts"`
		ValidCredential struct {
			Username string `json:"username"`
		} `json:"valid_credential"`
	} `json:"details"`
	Observed struct {
		HydraFound []struct {
			Username string `json:"username"`
		} `json:"hydra_found"`
	} `json:"observed"`
}

type finding struct {
	Type     string `json:"type"`
	Username string `json:"username"`
}

func groundTruth(t *testing.T) map[string]window {
	t.Helper()
	f, err := os.Open(testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]window{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var w window
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("ground truth: %v", err)
		}
		out[w.Label] = w
	}
	return out
}

// in returns the login observations of window w: inside its time span,
// from one of its sources to one of its targets.
func (w window) logins(obs []*event.Observation) []*event.Observation {
	start := time.UnixMicro(int64(w.Start * 1e6)).Add(-time.Millisecond)
	end := time.UnixMicro(int64(w.End * 1e6)).Add(time.Second)
	var out []*event.Observation
	for _, o := range obs {
		if o.Kind != "login" || o.Time.Before(start) || o.Time.After(end) {
			continue
		}
		if slices.Contains(w.SrcIPs, o.Src.IP.String()) && slices.Contains(w.DstIPs, o.Dst.IP.String()) {
			out = append(out, o)
		}
	}
	return out
}

func (w window) defaultUser() string {
	for _, f := range w.ExpectedFindings {
		if f.Type == "default-credentials" {
			return f.Username
		}
	}
	return ""
}

// TestLabTelnet checks the lab capture's Telnet windows against their
// ground truth, with heir's real default-credential list injected.
func TestLabTelnet(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := groundTruth(t)
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(credential.Defaults())}, path)

	// Nothing but the Telnet service is taken for Telnet: not the DICOM,
	// HL7, MQTT, TLS, FTP or HTTP flows of the capture, nor the scans.
	for _, f := range res.Flows {
		if f.Proto == "telnet" && f.Server.Port != 23 {
			t.Errorf("flow to port %d claimed as Telnet", f.Server.Port)
		}
	}

	benign := gt["benign-telnet-login"]
	ls := benign.logins(res.Observations)
	if len(ls) != 1 {
		t.Fatalf("benign window: %d logins", len(ls))
	}
	ld := ls[0].Detail.(*LoginDetail)
	wantUser := benign.defaultUser()
	if wantUser == "" || !benign.Details.LoginSuccess {
		t.Fatal("ground truth lacks the benign default login")
	}
	if ld.User != wantUser || ld.Outcome != OutcomeSuccess || !ld.DefaultCredential ||
		!hasWeakness(ls[0], event.WeakDefaultCredentials) || !hasWeakness(ls[0], event.WeakCleartextCredentials) {
		t.Errorf("benign login %+v weaknesses %+v", ld, ls[0].Weaknesses)
	}
	t.Logf("benign-telnet-login: user %s %s, default credential %v", ld.User, ld.Outcome, ld.DefaultCredential)

	checkBruteForce(t, gt["attack-bruteforce-telnet"], res.Observations)
}

// checkBruteForce compares the login attempts seen in a brute-force window
// with its ground truth: the tool tried users × passwords, stopped trying
// a user once it found the valid password, and found exactly the listed
// credentials.
func checkBruteForce(t *testing.T, w window, obs []*event.Observation) {
	t.Helper()
	ls := w.logins(obs)
	users, passwords := w.Details.Users, w.Details.Passwords
	if len(users) == 0 || len(passwords) == 0 || w.Details.MaxAttempts == 0 {
		t.Fatalf("%s: ground truth lacks users, passwords or max_attempts", w.Label)
	}
	perUser := map[string]int{}
	var ok, failed, unknown int
	for _, o := range ls {
		d := o.Detail.(*LoginDetail)
		if !slices.Contains(users, d.User) {
			t.Errorf("%s: attempt for user %q not in the ground truth %v", w.Label, d.User, users)
		}
		perUser[d.User]++
		if !d.PasswordSent || !hasWeakness(o, event.WeakCleartextCredentials) {
			t.Errorf("%s: attempt without password or cleartext weakness: %+v", w.Label, d)
		}
		switch d.Outcome {
		case OutcomeSuccess:
			ok++
			if d.User != w.Details.ValidCredential.Username || !d.DefaultCredential || !hasWeakness(o, event.WeakDefaultCredentials) {
				t.Errorf("%s: success %+v, want %s with default credentials", w.Label, d, w.Details.ValidCredential.Username)
			}
		case OutcomeFailure:
			failed++
			if hasWeakness(o, event.WeakDefaultCredentials) {
				t.Errorf("%s: failed attempt reported as default credentials", w.Label)
			}
		default:
			unknown++
		}
	}
	n := len(ls)
	// Every user but the one found was tried with every password; the
	// found one at least once.
	least := (len(users)-1)*len(passwords) + 1
	if n < least || n > w.Details.MaxAttempts {
		t.Errorf("%s: %d attempts, want between %d and %d", w.Label, n, least, w.Details.MaxAttempts)
	}
	for u, c := range perUser {
		if c > len(passwords) {
			t.Errorf("%s: %d attempts for %s, more than %d passwords", w.Label, c, u, len(passwords))
		}
		if u != w.Details.ValidCredential.Username && c != len(passwords) {
			t.Errorf("%s: %d attempts for %s, want all %d passwords", w.Label, c, u, len(passwords))
		}
	}
	if ok != len(w.Observed.HydraFound) || failed != n-ok || unknown != 0 {
		t.Errorf("%s: %d ok, %d failed, %d unknown; ground truth found %d", w.Label, ok, failed, unknown, len(w.Observed.HydraFound))
	}
	t.Logf("%s: %d attempts (%d success, %d failure), per user %v; ground truth: %d users × %d passwords, max %d",
		w.Label, n, ok, failed, perUser, len(users), len(passwords), w.Details.MaxAttempts)
}
