package ftp

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestNDPIFTP runs nDPI's ftp.pcap. tshark (-Y ftp.request.command==USER
// -T fields -e ftp.request.arg) shows USER anonymous, answered 230 after
// PASS; the greeting is "220 (vsFTPd 3.0.3)"; two PASV replies announce
// ports 100*256+85 and 95*256+203, the two data flows of the capture.
func TestNDPIFTP(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/ftp.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(credential.Defaults())}, path)
	if k := res.Kinds(); k["ftp/banner"] != 1 || k["ftp/login"] != 1 || k["ftp/session-summary"] != 1 {
		t.Fatalf("kinds %v", k)
	}
	banner, login, sum := res.Observations[0], res.Observations[1], res.Observations[2]
	wantUser := ndpiField(t, path+".out", `\[User: ([^\]]+)\]`)
	ld := login.Detail.(*LoginDetail)
	if ld.User != wantUser || ld.User != "anonymous" || ld.Outcome != OutcomeSuccess || !ld.PasswordSent || !ld.Anonymous {
		t.Errorf("login %+v, nDPI says user %q", ld, wantUser)
	}
	if !hasWeakness(banner, event.WeakCleartextLogin) || !hasWeakness(login, event.WeakCleartextCredentials) || !hasWeakness(login, event.WeakUnauthenticated) {
		t.Errorf("weaknesses: banner %+v login %+v", banner.Weaknesses, login.Weaknesses)
	}
	if !hasFact(banner, event.AttrSoftware, "vsftpd 3.0.3") {
		t.Errorf("banner facts %+v", banner.Facts)
	}
	sd := sum.Detail.(*SummaryDetail)
	want := map[string]int{"USER": 1, "PASS": 1, "PWD": 2, "FEAT": 1, "HELP": 1, "CLNT": 1, "PASV": 2, "LIST": 1, "TYPE": 1, "MLST": 1, "SIZE": 1, "MDTM": 1, "RETR": 1, "QUIT": 1}
	if !equalMaps(sd.Commands, want) {
		t.Errorf("commands %v", sd.Commands)
	}
	if !slices.Equal(sd.DataEndpoints, []string{"90.130.70.73:25685", "90.130.70.73:24523"}) {
		t.Errorf("endpoints %v", sd.DataEndpoints)
	}
	// The announced endpoints are the servers of the capture's data flows.
	for _, ep := range sd.DataEndpoints {
		found := false
		for _, f := range res.Flows {
			if f.Server.IP.String()+":"+itoa(f.Server.Port) == ep {
				found = true
			}
		}
		if !found {
			t.Errorf("no data flow to %s", ep)
		}
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// TestNDPIFTPFailed runs ftp_failed.pcap: "USER hello" answered "530 This
// FTP server is anonymous only." (tshark follow,tcp,ascii,0); nDPI reports
// the user and "Auth Failed". No password was sent, so no
// cleartext-credentials weakness (nDPI flags the user name alone).
func TestNDPIFTPFailed(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/ftp_failed.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(credential.Defaults())}, path)
	var logins []*event.Observation
	var banner *event.Observation
	for _, o := range res.Observations {
		switch o.Kind {
		case "login":
			logins = append(logins, o)
		case "banner":
			banner = o
		}
	}
	wantUser := ndpiField(t, path+".out", `\[User: ([^\]]+)\]`)
	ndpiField(t, path+".out", `\[(Auth Failed)\]`)
	if len(logins) != 1 {
		t.Fatalf("%d logins", len(logins))
	}
	ld := logins[0].Detail.(*LoginDetail)
	if ld.User != wantUser || ld.Outcome != OutcomeFailure || ld.PasswordSent {
		t.Errorf("login %+v, nDPI says user %q", ld, wantUser)
	}
	if banner == nil || !hasWeakness(banner, event.WeakCleartextLogin) {
		t.Error("cleartext-login missing")
	}
	if logins[0].Src.IP.String() != "2a00:d40:1:3:192:12:193:11" {
		t.Errorf("login from %v", logins[0].Src)
	}
}

// TestLabFTP checks the lab capture's FTP windows against their ground
// truth, with heir's real default-credential list injected.
func TestLabFTP(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := groundTruth(t)
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(credential.Defaults())}, path)

	// Only the control connections are FTP: the data connections (PASV
	// ports) carry listings and files.
	for _, f := range res.Flows {
		if f.Proto == "ftp" && f.Server.Port != 21 {
			t.Errorf("flow to port %d claimed as FTP", f.Server.Port)
		}
	}

	benign := gt["benign-ftp-login"]
	ls := benign.logins(res.Observations)
	if benign.Details.Sessions == 0 || len(ls) != benign.Details.Sessions {
		t.Fatalf("benign window: %d logins, ground truth %d sessions", len(ls), benign.Details.Sessions)
	}
	wantUser := benign.defaultUser()
	for _, o := range ls {
		ld := o.Detail.(*LoginDetail)
		if ld.User != wantUser || ld.Outcome != OutcomeSuccess || !ld.DefaultCredential ||
			!hasWeakness(o, event.WeakDefaultCredentials) || !hasWeakness(o, event.WeakCleartextCredentials) {
			t.Errorf("benign login %+v weaknesses %+v", ld, o.Weaknesses)
		}
	}
	t.Logf("benign-ftp-login: %d successful logins as %s with default credentials", len(ls), wantUser)

	checkBruteForce(t, gt["attack-bruteforce-ftp"], res.Observations)
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
