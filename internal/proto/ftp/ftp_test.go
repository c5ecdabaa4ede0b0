package ftp

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// archiveSession is an FTP dialogue shaped by RFC 959/2428 and vsftpd's
// replies; names, addresses and the password are made up.
func archiveSession() []step {
	return []step{
		sc("220-Welcome to the imaging archive\r\n220-Authorised users only\r\n220 (vsFTPd 3.0.5)\r\n"),
		cs("USER service\r\n"),
		sc("331 Please specify the password.\r\n"),
		cs("PASS Pump-42\r\n"),
		sc("230-Welcome back\r\n230 Login successful.\r\n"),
		cs("SYST\r\n"),
		sc("215 UNIX Type: L8\r\n"),
		cs("FEAT\r\n"),
		sc("211-Features:\r\n EPRT\r\n EPSV\r\n123 not the end\r\n PASV\r\n211 End\r\n"),
		cs("PASV\r\n"),
		sc("227 Entering Passive Mode (10,0,0,1,117,48).\r\n"),
		cs("STOR CT_Doe_John_19700101.dcm\r\n"),
		sc("150 Ok to send data.\r\n226 Transfer complete.\r\n"),
		cs("EPSV\r\n"),
		sc("229 Entering Extended Passive Mode (|||30001|)\r\n"),
		cs("retr report.pdf\r\n"),
		sc("150 Opening BINARY mode data connection for report.pdf (1 bytes).\r\n"),
		sc("226 Transfer complete.\r\n"),
		cs("PORT 10,0,0,2,195,80\r\n"),
		sc("200 PORT command successful. Consider using PASV.\r\n"),
		cs("EPRT |2|fe80::1|6000|\r\n"),
		sc("200 EPRT command successful.\r\n"),
		cs("XYZW\r\n"),
		sc("500 Unknown command.\r\n"),
		cs("QUIT\r\n"),
		sc("221 Goodbye.\r\n"),
	}
}

func TestArchiveSession(t *testing.T) {
	chk := &pairChecker{user: "service", password: "Pump-42"}
	obs := play(New(chk), archiveSession(), whole)
	if len(obs) != 3 || obs[0].Kind != "banner" || obs[1].Kind != "login" || obs[2].Kind != "session-summary" {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	b := obs[0]
	if bd := b.Detail.(*BannerDetail); bd.Banner != "Welcome to the imaging archive\nAuthorised users only\n(vsFTPd 3.0.5)" || bd.TLS {
		t.Errorf("banner %+v", bd)
	}
	if !hasFact(b, event.AttrSoftware, "vsftpd 3.0.5") || !hasFact(b, event.AttrServer, "ftp") || !hasWeakness(b, event.WeakCleartextLogin) ||
		!hasFact(b, event.AttrBanner, "Welcome to the imaging archive\nAuthorised users only\n(vsFTPd 3.0.5)") {
		t.Errorf("banner facts %+v weaknesses %+v", b.Facts, b.Weaknesses)
	}
	l := obs[1]
	if ld := l.Detail.(*LoginDetail); *ld != (LoginDetail{User: "service", Outcome: OutcomeSuccess, Attempt: 1, PasswordSent: true, DefaultCredential: true}) {
		t.Errorf("login %+v", ld)
	}
	if !hasWeakness(l, event.WeakCleartextCredentials) || !hasWeakness(l, event.WeakDefaultCredentials) || hasWeakness(l, event.WeakUnauthenticated) {
		t.Errorf("login weaknesses %+v", l.Weaknesses)
	}
	s := obs[2]
	sd := s.Detail.(*SummaryDetail)
	wantCmds := map[string]int{"USER": 1, "PASS": 1, "SYST": 1, "FEAT": 1, "PASV": 1, "STOR": 1, "EPSV": 1, "RETR": 1, "PORT": 1, "EPRT": 1, "QUIT": 1, "other": 1}
	if !equalMaps(sd.Commands, wantCmds) {
		t.Errorf("commands %v", sd.Commands)
	}
	wantEP := []string{"10.0.0.1:30000", "10.0.0.1:30001", "10.0.0.2:50000", "[fe80::1]:6000"}
	if !slices.Equal(sd.DataEndpoints, wantEP) || sd.DataEndpointCount != 4 {
		t.Errorf("endpoints %v (%d)", sd.DataEndpoints, sd.DataEndpointCount)
	}
	if sd.LoginAttempts != 1 || sd.LoginsOK != 1 || sd.LoginsFailed != 0 {
		t.Errorf("summary counts %+v", sd)
	}
	if !hasFact(s, event.AttrOS, "UNIX Type: L8") || !hasFact(s, event.AttrClient, "ftp:retr") || !hasFact(s, event.AttrServer, "ftp:stor") {
		t.Errorf("summary facts %+v", s.Facts)
	}
	for _, f := range s.Facts {
		if f.Attr == event.AttrOS && f.About != event.AboutDst {
			t.Errorf("OS fact about %s, want the server (dst)", f.About)
		}
	}
	// File names can name patients: never emitted.
	all, _ := json.Marshal(obs)
	for _, secret := range []string{"Doe_John", "report.pdf", "Pump-42"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("%q emitted: %s", secret, all)
		}
	}
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func bruteForce() []step {
	return []step{
		sc("220 PumpNet FTP ready\r\n"),
		cs("USER admin\r\n"), sc("331 Please specify the password.\r\n"),
		cs("PASS letmein\r\n"), sc("530 Login incorrect.\r\n"),
		cs("USER admin\r\n"), sc("331 Please specify the password.\r\n"),
		cs("PASS 1234\r\n"), sc("530 Login incorrect.\r\n"),
		cs("USER guest\r\n"),
	}
}

func TestBruteForce(t *testing.T) {
	obs := play(New(&pairChecker{user: "admin", password: "1234"}), bruteForce(), whole)
	ls := logins(obs)
	if len(ls) != 2 {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	if *ls[1] != (LoginDetail{User: "admin", Outcome: OutcomeFailure, Attempt: 2, PasswordSent: true, DefaultCredential: true}) {
		t.Errorf("second %+v", ls[1])
	}
	if hasWeakness(obs[2], event.WeakDefaultCredentials) {
		t.Error("failed default attempt reported as a default-credential weakness")
	}
	sd := obs[len(obs)-1].Detail.(*SummaryDetail)
	if sd.LoginAttempts != 2 || sd.LoginsFailed != 2 || sd.Commands["USER"] != 3 {
		t.Errorf("summary %+v", sd)
	}
}

func TestSplitAnywhere(t *testing.T) {
	for name, steps := range map[string][]step{"archive": archiveSession(), "brute": bruteForce(), "anonymous": anonymous()} {
		t.Run(name, func(t *testing.T) {
			chk := &pairChecker{user: "service", password: "Pump-42"}
			want := summary(play(New(chk), steps, whole))
			if got := summary(play(New(chk), steps, bytewise)); got != want {
				t.Fatalf("bytewise differs:\n%s\nwant\n%s", got, want)
			}
			for at := 1; at < total(steps); at++ {
				if got := summary(play(New(chk), steps, cutAt(steps, at))); got != want {
					t.Fatalf("cut at %d differs:\n%s\nwant\n%s", at, got, want)
				}
			}
		})
	}
}

func anonymous() []step {
	return []step{
		sc("220 Microsoft FTP Service\r\n"),
		cs("USER anonymous\r\n"), sc("331 Anonymous access allowed, send identity (e-mail name) as password.\r\n"),
		cs("PASS guest@\r\n"), sc("230 User logged in.\r\n"),
		cs("NLST\r\n"), sc("150 Opening ASCII mode data connection.\r\n226 Transfer complete.\r\n"),
	}
}

func TestAnonymous(t *testing.T) {
	obs := play(New(nil), anonymous(), whole)
	if !hasFact(obs[0], event.AttrSoftware, "Microsoft FTP Service") || !hasFact(obs[0], event.AttrOS, "Windows") {
		t.Errorf("banner facts %+v", obs[0].Facts)
	}
	l := obs[1]
	ld := l.Detail.(*LoginDetail)
	if !ld.Anonymous || ld.Outcome != OutcomeSuccess || !hasWeakness(l, event.WeakUnauthenticated) || !hasWeakness(l, event.WeakCleartextCredentials) {
		t.Errorf("anonymous login %+v %+v", ld, l.Weaknesses)
	}
}

func TestUserRejected(t *testing.T) {
	// As in nDPI's ftp_failed.pcap: the server refuses the user outright.
	steps := []step{sc("220 (vsFTPd 3.0.3)\r\n"), cs("USER hello\r\n"), sc("530 This FTP server is anonymous only.\r\n"), cs("QUIT\r\n"), sc("221 Goodbye.\r\n")}
	obs := play(New(nil), steps, whole)
	ls := logins(obs)
	if len(ls) != 1 || *ls[0] != (LoginDetail{User: "hello", Outcome: OutcomeFailure, Attempt: 1}) {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	if len(obs[1].Weaknesses) != 0 {
		t.Errorf("no password was sent: weaknesses %+v", obs[1].Weaknesses)
	}
}

func TestAuthTLS(t *testing.T) {
	steps := []step{
		sc("220 ProFTPD 1.3.8 Server (PACS) [10.0.0.1]\r\n"),
		cs("AUTH TLS\r\n"),
		sc("234 AUTH TLS successful\r\n"),
		cs("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
	}
	k := &sink{}
	f := &feeder{s: New(nil).New(testConn(), k)}
	for _, st := range steps[:3] {
		f.feed(st.dir, st.data)
	}
	if !f.done {
		t.Fatal("session goes on after AUTH TLS was accepted")
	}
	f.s.End(proto.Meta{})
	if len(k.obs) != 2 {
		t.Fatalf("observations:\n%s", summary(k.obs))
	}
	b := k.obs[0]
	if !b.Detail.(*BannerDetail).TLS || hasWeakness(b, event.WeakCleartextLogin) || !hasFact(b, event.AttrSoftware, "ProFTPD 1.3.8") {
		t.Errorf("banner %+v %+v %+v", b.Detail, b.Weaknesses, b.Facts)
	}
	if sd := k.obs[1].Detail.(*SummaryDetail); !sd.TLS || sd.AuthMechanism != "TLS" {
		t.Errorf("summary %+v", sd)
	}

	// Refused: the login goes on in cleartext.
	steps = []step{sc("220 FTP\r\n"), cs("AUTH SSL\r\n"), sc("504 Unknown AUTH type.\r\n"), cs("USER a\r\n"), sc("331 x\r\n"), cs("PASS b\r\n"), sc("230 ok\r\n")}
	obs := play(New(nil), steps, whole)
	if bd := obs[0].Detail.(*BannerDetail); !bd.AuthRefused || bd.TLS || !hasWeakness(obs[0], event.WeakCleartextLogin) {
		t.Errorf("refused AUTH banner %+v", obs[0])
	}
	if len(logins(obs)) != 1 {
		t.Errorf("observations:\n%s", summary(obs))
	}
}

func TestLongLineAndLimits(t *testing.T) {
	long := strings.Repeat("A", 5000)
	steps := []step{sc("220 FTP server ready\r\n"), cs("SITE " + long), cs(long + "\r\nUSER x\r\n"), sc("530 no\r\n")}
	obs := play(New(nil), steps, whole)
	if ls := logins(obs); len(ls) != 1 || ls[0].User != "x" {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	if sd := obs[len(obs)-1].Detail.(*SummaryDetail); sd.Commands["SITE"] != 0 || sd.Commands["USER"] != 1 {
		t.Errorf("over-long line parsed: %v", sd.Commands)
	}

	var many []step
	many = append(many, sc("220 FTP\r\n"))
	for range 5 {
		many = append(many, cs("USER u\r\nPASS p\r\n"), sc("331 p\r\n530 no\r\n"))
	}
	obs = play(NewWithLimits(nil, Limits{MaxLogins: 2}), many, whole)
	sd := obs[len(obs)-1].Detail.(*SummaryDetail)
	if len(logins(obs)) != 2 || sd.LoginAttempts != 5 || sd.LoginsFailed != 5 {
		t.Errorf("limits: %d logins, summary %+v", len(logins(obs)), sd)
	}

	// Past MaxBytes the session reports and stops.
	k := &sink{}
	s := NewWithLimits(nil, Limits{MaxBytes: 1000}).New(testConn(), k)
	s.Feed(proto.ToClient, []byte("220 FTP\r\n"), proto.Meta{})
	_, done := s.Feed(proto.ToServer, bytes.Repeat([]byte("NOOP\r\n"), 300), proto.Meta{})
	if !done || !k.obs[len(k.obs)-1].Detail.(*SummaryDetail).Truncated {
		t.Errorf("MaxBytes: done %v, %s", done, summary(k.obs))
	}
}

func TestPassWithoutUserAndUnknown(t *testing.T) {
	steps := []step{sc("220 FTP\r\n"), cs("PASS x\r\n"), sc("503 Login with USER first.\r\n"), cs("USER a\r\nPASS b\r\n")}
	obs := play(New(nil), steps, whole)
	ls := logins(obs)
	if len(ls) != 2 || ls[0].User != "" || ls[0].Outcome != OutcomeFailure || ls[1].User != "a" || ls[1].Outcome != OutcomeUnknown {
		t.Fatalf("observations:\n%s", summary(obs))
	}
}

func TestGap(t *testing.T) {
	k := &sink{}
	s := New(nil).New(testConn(), k)
	s.Feed(proto.ToClient, []byte("220 FTP\r\n"), proto.Meta{})
	s.Feed(proto.ToServer, []byte("USER ad"), proto.Meta{})
	s.Gap(proto.ToServer, 50)
	s.Feed(proto.ToServer, []byte("min\r\nUSER b\r\n"), proto.Meta{})
	s.Feed(proto.ToClient, []byte("530 no\r\n"), proto.Meta{})
	s.End(proto.Meta{})
	ls := logins(k.obs)
	if len(ls) != 1 || ls[0].User != "b" {
		t.Fatalf("observations:\n%s", summary(k.obs))
	}
}

func TestProbe(t *testing.T) {
	d := New(nil)
	c := testConn()
	tests := []struct {
		name string
		dir  proto.Dir
		data string
		want proto.Verdict
	}{
		{"vsftpd greeting", proto.ToClient, "220 (vsFTPd 3.0.3)\r\n", proto.Yes},
		{"greeting seen as client", proto.ToServer, "220 (vsFTPd 3.0.3)\r\n", proto.YesReversed},
		{"multi-line greeting", proto.ToClient, "220-Welcome\r\n220-FTP archive\r\n", proto.Yes},
		{"partial greeting", proto.ToClient, "22", proto.Unsure},
		{"greeting naming nothing", proto.ToClient, "220 Welcome\r\n", proto.Unsure},
		{"smtp greeting", proto.ToClient, "220 mx.example.org ESMTP Postfix\r\n", proto.No},
		{"nntp", proto.ToClient, "200 news.example.org NNRP ready\r\n", proto.No},
		{"USER", proto.ToServer, "USER admin\r\n", proto.Yes},
		{"USER seen as server", proto.ToClient, "USER admin\r\n", proto.YesReversed},
		{"partial USER", proto.ToServer, "USE", proto.Unsure},
		{"USER unfinished", proto.ToServer, "USER adm", proto.Unsure},
		{"irc USER", proto.ToServer, "USER nick 0 * :Real Name\r\n", proto.No},
		{"AUTH TLS", proto.ToServer, "AUTH TLS\r\n", proto.Yes},
		{"smtp AUTH", proto.ToServer, "AUTH PLAIN dGVzdA==\r\n", proto.No},
		{"PASV mid-session", proto.ToServer, "PASV\r\n", proto.Yes},
		{"PORT", proto.ToServer, "PORT 10,0,0,2,4,1\r\n", proto.Yes},
		{"bad PORT", proto.ToServer, "PORT 10,0,0,2\r\n", proto.No},
		{"227 mid-session", proto.ToClient, "227 Entering Passive Mode (1,2,3,4,5,6)\r\n", proto.Yes},
		{"331", proto.ToClient, "331 Please specify the password.\r\n", proto.Yes},
		{"http", proto.ToServer, "GET / HTTP/1.1\r\n", proto.No},
		{"ehlo", proto.ToServer, "EHLO client\r\n", proto.No},
		{"directory listing", proto.ToClient, "-rw-r--r--    1 0        0             101 Nov 28 15:43 a.csv\r\n", proto.No},
		{"telnet", proto.ToClient, "\xff\xfd\x01", proto.No},
		{"empty", proto.ToClient, "", proto.Unsure},
	}
	for _, tt := range tests {
		if got := d.Probe(c, tt.dir, []byte(tt.data)); got != tt.want {
			t.Errorf("%s: Probe = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	hp := []struct {
		in   string
		want netip.AddrPort
		ok   bool
	}{
		{"10,0,0,1,117,48", ap("10.0.0.1:30000"), true},
		{"255,255,255,255,255,255", ap("255.255.255.255:65535"), true},
		{"10,0,0,1,256,1", netip.AddrPort{}, false},
		{"10,0,0,1,1", netip.AddrPort{}, false},
		{"10,0,0,1,1,1,1", netip.AddrPort{}, false},
		{"10,0,0,,1,1", netip.AddrPort{}, false},
		{"1000,0,0,1,1,1", netip.AddrPort{}, false},
	}
	for _, tt := range hp {
		got, ok := parseHostPort([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseHostPort(%q) = %v %v", tt.in, got, ok)
		}
	}
	if got, ok := parsePASV([]byte("Entering Passive Mode 10,0,0,1,4,1")); !ok || got != ap("10.0.0.1:1025") {
		t.Errorf("PASV without parentheses: %v %v", got, ok)
	}
	for in, want := range map[string]uint16{"Entering Extended Passive Mode (|||30001|)": 30001, "ok (!!!21!)": 21, "(|||0|)": 0, "(|||70000|)": 0, "(||30001|)": 0, "(": 0} {
		got, _ := parseEPSV([]byte(in))
		if got != want {
			t.Errorf("parseEPSV(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"|1|132.235.1.2|6275|":           "132.235.1.2:6275",
		"|2|1080::8:800:200C:417A|5282|": "[1080::8:800:200c:417a]:5282",
		"|1|::1|5282|":                   "",
		"|3|1.2.3.4|5|":                  "",
		"|1|1.2.3.4|5":                   "",
		"|1|1.2.3.4|99999|":              "",
		"|2|fe80::1%eth0|5|":             "",
	} {
		got, ok := parseEPRT([]byte(in))
		if (want == "") == ok || (ok && got.String() != want) {
			t.Errorf("parseEPRT(%q) = %v %v, want %q", in, got, ok, want)
		}
	}
}

func TestMidSession(t *testing.T) {
	// A capture that starts after the greeting: no banner text, and later
	// multi-line replies are not taken for one.
	steps := []step{cs("PASV\r\n"), sc("227 Entering Passive Mode (10,0,0,1,4,1)\r\n"), cs("FEAT\r\n"), sc("211-Features:\r\n MDTM\r\n211 End\r\n"), cs("RETR x\r\n")}
	obs := play(New(nil), steps, whole)
	if len(obs) != 2 || obs[0].Detail.(*BannerDetail).Banner != "" {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	if sd := obs[1].Detail.(*SummaryDetail); sd.DataEndpointCount != 1 || sd.Commands["RETR"] != 1 {
		t.Errorf("summary %+v", sd)
	}
}

func TestDiscardWithoutNewline(t *testing.T) {
	// An over-long line arriving in pieces is skipped piece by piece, not
	// held.
	k := &sink{}
	s := NewWithLimits(nil, Limits{MaxLine: 100}).New(testConn(), k)
	s.Feed(proto.ToClient, []byte("220 FTP\r\n"), proto.Meta{})
	long := bytes.Repeat([]byte("x"), 150)
	if n, _ := s.Feed(proto.ToServer, long, proto.Meta{}); n != len(long) {
		t.Fatalf("first piece: consumed %d", n)
	}
	if n, _ := s.Feed(proto.ToServer, long[:10], proto.Meta{}); n != 10 {
		t.Fatalf("continuation while discarding: consumed %d, want all", n)
	}
	if n, _ := s.Feed(proto.ToServer, []byte("yy\r\nUSER a"), proto.Meta{}); n != 4 {
		t.Fatalf("end of long line: consumed %d, want 4", n)
	}
}
