package telnet

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// IAC sequences used below (RFC 854, 857, 858, 1073, 1091).
const (
	doEcho     = "\xff\xfd\x01"
	doNAWS     = "\xff\xfd\x1f"
	doTType    = "\xff\xfd\x18"
	willEcho   = "\xff\xfb\x01"
	willSGA    = "\xff\xfb\x03"
	wontEcho   = "\xff\xfc\x01"
	wontNAWS   = "\xff\xfc\x1f"
	willTType  = "\xff\xfb\x18"
	willNAWS   = "\xff\xfb\x1f"
	dontEcho   = "\xff\xfe\x01"
	doSGA      = "\xff\xfd\x03"
	sbTTypeAsk = "\xff\xfa\x18\x01\xff\xf0"
)

// busyboxLogin is a BusyBox telnetd + login(1) dialogue as the RFCs and
// login's messages shape it; every value in it is made up.
func busyboxLogin(user, password string) []step {
	return []step{
		sc(doEcho + doNAWS + willEcho + willSGA),
		cs(wontEcho + wontNAWS + dontEcho + doSGA),
		sc("\r\n\r\nAcme InfuServe 9 (pump-ward4)\r\n\r\n"),
		sc("pump-ward4 login: "),
		cs(user + "\r\n"),
		sc(user + "\r\n"),
		sc("Password: "),
		cs(password + "\r\n"),
		sc("\r\n"),
		sc("Linux pump-ward4 5.10.0-21-amd64 #1 SMP Debian 5.10.162-1 (2023-01-21) x86_64\r\n"),
		sc("\r\nThe programs included with the Debian GNU/Linux 12 system are free software;\r\n"),
		sc("~ # "),
		cs("uptime\r\n"),
	}
}

func TestLoginSuccess(t *testing.T) {
	chk := &pairChecker{user: "service", password: "Pump-42"}
	obs := play(New(chk), busyboxLogin("service", "Pump-42"), whole)
	if len(obs) != 2 || obs[0].Kind != "banner" || obs[1].Kind != "login" {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	b := obs[0]
	bd := b.Detail.(*BannerDetail)
	if bd.Banner != "Acme InfuServe 9 (pump-ward4)\npump-ward4 login:" {
		t.Errorf("banner = %q", bd.Banner)
	}
	if strings.Join(bd.ServerDo, ",") != "echo,naws" || strings.Join(bd.ServerWill, ",") != "echo,suppress-go-ahead" || strings.Join(bd.ClientDo, ",") != "suppress-go-ahead" {
		t.Errorf("options: %+v", bd)
	}
	if b.Src.Port != 23 || !hasFact(b, event.AttrServer, "telnet") || !hasFact(b, event.AttrHostname, "pump-ward4") {
		t.Errorf("banner facts: %+v", b.Facts)
	}
	if !hasWeakness(b, event.WeakCleartextLogin) || hasWeakness(b, event.WeakUnauthenticated) {
		t.Errorf("banner weaknesses: %+v", b.Weaknesses)
	}
	l := obs[1]
	ld := l.Detail.(*LoginDetail)
	want := LoginDetail{User: "service", Outcome: OutcomeSuccess, Attempt: 1, PasswordSent: true, DefaultCredential: true}
	if *ld != want {
		t.Errorf("login = %+v, want %+v", *ld, want)
	}
	if l.Src.Port != 40000 || l.Dst.Port != 23 {
		t.Errorf("login direction: %v -> %v", l.Src, l.Dst)
	}
	if !hasWeakness(l, event.WeakCleartextCredentials) || !hasWeakness(l, event.WeakDefaultCredentials) {
		t.Errorf("login weaknesses: %+v", l.Weaknesses)
	}
	for _, w := range l.Weaknesses {
		if w.About != event.AboutDst {
			t.Errorf("weakness %s about %s, want the server (dst)", w.Kind, w.About)
		}
	}
	if !hasFact(l, event.AttrOS, "Linux 5.10.0-21-amd64") || !hasFact(l, event.AttrOS, "Debian GNU/Linux 12") {
		t.Errorf("login facts (message of the day): %+v", l.Facts)
	}
	if chk.asked != 1 {
		t.Errorf("checker asked %d times", chk.asked)
	}
	// The greeting and the message of the day are banner facts; the
	// command typed after the shell prompt and its output are not.
	if !hasFact(b, event.AttrBanner, "Acme InfuServe 9 (pump-ward4)") ||
		!hasFact(l, event.AttrBanner, "The programs included with the Debian GNU/Linux 12 system are free software;") {
		t.Errorf("banner facts: %+v / %+v", b.Facts, l.Facts)
	}
	for _, o := range obs {
		for _, f := range o.Facts {
			if f.Attr == event.AttrBanner && (strings.Contains(f.Value, "uptime") || strings.Contains(f.Value, "Password")) {
				t.Errorf("banner fact from the dialogue: %q", f.Value)
			}
		}
	}
}

// TestSplitAnywhere feeds dialogues whole, byte by byte, and cut once at
// every offset: the observations must not depend on segmentation.
func TestSplitAnywhere(t *testing.T) {
	dialogues := map[string][]step{
		"success": busyboxLogin("service", "Pump-42"),
		"retry":   retryDialogue(),
		"iac":     iacDialogue(),
	}
	for name, steps := range dialogues {
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

func retryDialogue() []step {
	return []step{
		sc(willEcho + willSGA + doTType),
		cs(willTType),
		sc(sbTTypeAsk),
		cs("\xff\xfa\x18\x00vt100\xff\xf0"),
		sc("\r\nhost7 login: "),
		cs("admin\r\n"),
		sc("admin\r\nPassword: "),
		cs("letmein\r\n"),
		sc("\r\nLogin incorrect\r\n"),
		sc("host7 login: "),
		cs("service\r\n"),
		sc("service\r\nPassword: "),
		cs("Pump-42\r\n"),
		sc("\r\nLast login: Mon Jan  2 10:00:00 on pts/0\r\n"),
		sc("BusyBox v1.36.1 (2023-06-01) built-in shell (ash)\r\n"),
		sc("$ "),
	}
}

func TestRetryThenSuccess(t *testing.T) {
	chk := &pairChecker{user: "service", password: "Pump-42"}
	obs := play(New(chk), retryDialogue(), whole)
	ls := logins(obs)
	if len(ls) != 2 {
		t.Fatalf("logins:\n%s", summary(obs))
	}
	if *ls[0] != (LoginDetail{User: "admin", Outcome: OutcomeFailure, Attempt: 1, PasswordSent: true}) {
		t.Errorf("first = %+v", *ls[0])
	}
	if *ls[1] != (LoginDetail{User: "service", Outcome: OutcomeSuccess, Attempt: 2, PasswordSent: true, DefaultCredential: true}) {
		t.Errorf("second = %+v", *ls[1])
	}
	if hasWeakness(obs[1], event.WeakDefaultCredentials) {
		t.Error("failed attempt reported as default credentials")
	}
	if !hasFact(obs[2], event.AttrSoftware, "BusyBox v1.36.1") {
		t.Errorf("facts: %+v", obs[2].Facts)
	}
	if tt := obs[0].Detail.(*BannerDetail).TerminalType; tt != "vt100" {
		t.Errorf("terminal type %q", tt)
	}
}

// TestCharacterTyping types one character per segment with the server
// echoing the user name, as interactive clients do, and corrects the
// password with backspaces, DEL and a killed line.
func TestCharacterTyping(t *testing.T) {
	steps := []step{
		sc(willEcho + willSGA),
		sc("login: "),
	}
	for _, c := range "root" {
		steps = append(steps, cs(string(c)), sc(string(c)))
	}
	steps = append(steps, cs("\r\x00"), sc("\r\n"), sc("Password: "))
	// "secrXt" -> BS -> "secr" ... "junk" ^U then the real password, CR NUL.
	for _, c := range []string{"s", "e", "c", "r", "X", "\x08", "e", "t", "\x7f", "t", "!", "\r\x00"} {
		steps = append(steps, cs(c))
	}
	steps = append(steps, sc("\r\n# "))
	chk := &pairChecker{user: "root", password: "secret!"}
	obs := play(New(chk), steps, whole)
	ls := logins(obs)
	if len(ls) != 1 || *ls[0] != (LoginDetail{User: "root", Outcome: OutcomeSuccess, Attempt: 1, PasswordSent: true, DefaultCredential: true}) {
		t.Fatalf("logins:\n%s", summary(obs))
	}

	// ^U kills what was typed, IAC EC erases a character.
	steps = []step{sc("Username: "), cs("bogus\x15ad"), cs("mx\xff\xf7in\n"), sc("Password:"), cs("pw\r\n"), sc("\r\nAccess denied\r\n")}
	chk = &pairChecker{user: "admin", password: "pw"}
	obs = play(New(chk), steps, whole)
	ls = logins(obs)
	if len(ls) != 1 || ls[0].User != "admin" || ls[0].Outcome != OutcomeFailure || !ls[0].DefaultCredential {
		t.Fatalf("logins:\n%s", summary(obs))
	}
}

// iacDialogue has a password holding 0xFF (sent as IAC IAC), a NAWS
// subnegotiation whose width byte is 0xFF, and the USER variable sent
// with NEW-ENVIRON for a server that asks only for a password.
func iacDialogue() []step {
	return []step{
		sc(doNAWS + "\xff\xfd\x27" + willEcho),
		cs(willNAWS + "\xff\xfb\x27"),
		cs("\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0"),
		sc("\xff\xfa\x27\x01\x00USER\xff\xf0"),
		cs("\xff\xfa\x27\x00\x00USER\x01ser\x02\x01vice\xff\xf0"),
		sc("\r\nPassword: "),
		cs("p\xff\xffw\r\n"),
		sc("\r\n\x1b[1mWelcome\x1b[0m\r\n> "),
	}
}

func TestIACEscapes(t *testing.T) {
	chk := &pairChecker{user: "ser\x01vice", password: "p\xffw"}
	obs := play(New(chk), iacDialogue(), whole)
	if len(obs) != 2 {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	bd := obs[0].Detail.(*BannerDetail)
	if bd.WindowCols != 255 || bd.WindowRows != 24 {
		t.Errorf("window %dx%d", bd.WindowCols, bd.WindowRows)
	}
	// The escaped SOH is part of the value but not printable: dropped.
	if bd.EnvUser != "service" {
		t.Errorf("env user %q", bd.EnvUser)
	}
	ld := obs[1].Detail.(*LoginDetail)
	if ld.User != "service" || ld.Outcome != OutcomeSuccess {
		t.Errorf("login %+v", ld)
	}
	// The checker sees the printable user; the password arrives with the
	// IAC IAC escape undone.
	chk2 := &pairChecker{user: "service", password: "p\xffw"}
	ld = logins(play(New(chk2), iacDialogue(), whole))[0]
	if !ld.DefaultCredential {
		t.Error("IAC IAC in the password not decoded to 0xFF")
	}
}

func TestRepromptAndMaxAttempts(t *testing.T) {
	var steps []step
	steps = append(steps, sc(willEcho+"login: "))
	for range 5 {
		steps = append(steps, cs("root\r\n"), sc("Password: "), cs("x\r\n"), sc("\r\nlogin: "))
	}
	obs := play(NewWithLimits(nil, Limits{MaxAttempts: 3}), steps, whole)
	ls := logins(obs)
	if len(ls) != 3 {
		t.Fatalf("logins:\n%s", summary(obs))
	}
	for i, l := range ls {
		if l.Attempt != i+1 || l.Outcome != OutcomeFailure || l.DefaultCredential {
			t.Errorf("attempt %d: %+v", i, l)
		}
	}
}

func TestUnauthenticatedShell(t *testing.T) {
	steps := []step{sc(willEcho + willSGA), sc("\r\nBusyBox v1.31.1 built-in shell\r\n/ # "), cs("ls\r\n"), sc("bin etc\r\n/ # ")}
	obs := play(New(nil), steps, whole)
	if len(obs) != 1 || !hasWeakness(obs[0], event.WeakUnauthenticated) || len(logins(obs)) != 0 {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	if !hasFact(obs[0], event.AttrSoftware, "BusyBox v1.31.1") {
		t.Errorf("facts %+v", obs[0].Facts)
	}
}

func TestUnknownOutcomeAndNoAttempt(t *testing.T) {
	// Password typed, connection closed before any verdict: unknown.
	obs := play(New(&pairChecker{user: "admin", password: "admin"}), []step{sc("login: "), cs("admin\r\n"), sc("Password: "), cs("admin\r\n")}, whole)
	ls := logins(obs)
	if len(ls) != 1 || ls[0].Outcome != OutcomeUnknown || !hasWeakness(obs[1], event.WeakDefaultCredentials) {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	// A user name and nothing else: nothing was tried.
	obs = play(New(nil), []step{sc("login: "), cs("admin\r\n")}, whole)
	if len(logins(obs)) != 0 || len(obs) != 1 {
		t.Fatalf("observations:\n%s", summary(obs))
	}
	// Typed ahead of any prompt: never taken for a user name.
	obs = play(New(nil), []step{sc("login: "), cs("admin\r\n"), cs("hunter2\r\n"), sc("Password: ")}, whole)
	if s := summary(obs); strings.Contains(s, "hunter2") {
		t.Fatalf("typed-ahead line reported:\n%s", s)
	}
}

// TestNoPasswordKept checks that the password appears in no observation
// and that the session's typing buffer is wiped.
func TestNoPasswordKept(t *testing.T) {
	const pw = "Zq7-unique-pw"
	k := &sink{}
	s := New(nil).New(testConn(), k).(*session)
	f := &feeder{s: s}
	for _, st := range busyboxLogin("nurse", pw)[:8] {
		f.feed(st.dir, st.data)
	}
	f.feed(proto.ToServer, []byte(pw[:5])) // half a line of another password
	s.End(proto.Meta{})
	b, _ := json.Marshal(k.obs)
	if bytes.Contains(b, []byte(pw)) || bytes.Contains(b, []byte(pw[:5])) {
		t.Fatalf("password emitted: %s", b)
	}
	if !bytes.Equal(s.typed[:], make([]byte, len(s.typed))) {
		t.Fatal("typed buffer not wiped")
	}
	if bytes.Contains(s.line[:], []byte(pw)) || bytes.Contains(s.last[:], []byte(pw)) {
		t.Fatal("password in the server screen buffers")
	}
}

func TestBoundedVolume(t *testing.T) {
	d := NewWithLimits(nil, Limits{MaxBytes: 4096})
	k := &sink{}
	s := d.New(testConn(), k)
	s.Feed(proto.ToClient, []byte("login: "), proto.Meta{})
	s.Feed(proto.ToServer, []byte("root\r\n"), proto.Meta{})
	s.Feed(proto.ToClient, []byte("Password: "), proto.Meta{})
	s.Feed(proto.ToServer, []byte("pw\r\n"), proto.Meta{})
	junk := bytes.Repeat([]byte("motd line without a prompt\r\n"), 200)
	n, done := s.Feed(proto.ToClient, junk, proto.Meta{})
	if n != len(junk) || !done {
		t.Fatalf("Feed = %d, %v; want all consumed and done", n, done)
	}
	if ls := logins(k.obs); len(ls) != 1 || ls[0].Outcome != OutcomeUnknown {
		t.Fatalf("observations:\n%s", summary(k.obs))
	}
	s.End(proto.Meta{}) // after done: nothing more, no panic
	if len(k.obs) != 2 {
		t.Fatalf("End after done emitted again:\n%s", summary(k.obs))
	}
}

func TestUnterminatedSubnegotiation(t *testing.T) {
	d := New(nil)
	k := &sink{}
	s := d.New(testConn(), k)
	runaway := append([]byte("\xff\xfa\x18\x00"), bytes.Repeat([]byte("x"), 3*sbMax)...)
	s.Feed(proto.ToServer, append(runaway, "\r\n"...), proto.Meta{})
	s.Feed(proto.ToClient, []byte("login: "), proto.Meta{})
	s.Feed(proto.ToServer, []byte("root\r\n"), proto.Meta{})
	s.Feed(proto.ToClient, []byte("Password: "), proto.Meta{})
	s.Feed(proto.ToServer, []byte("pw\r\n"), proto.Meta{})
	s.Feed(proto.ToClient, []byte("Login incorrect\r\n"), proto.Meta{})
	s.End(proto.Meta{})
	if ls := logins(k.obs); len(ls) != 1 || ls[0].User != "root" {
		t.Fatalf("session did not recover from a runaway subnegotiation:\n%s", summary(k.obs))
	}
}

func TestGap(t *testing.T) {
	k := &sink{}
	s := New(nil).New(testConn(), k)
	s.Feed(proto.ToClient, []byte("login: "), proto.Meta{})
	s.Feed(proto.ToServer, []byte("ro"), proto.Meta{})
	s.Gap(proto.ToServer, 100)
	s.Feed(proto.ToServer, []byte("ot\r\n"), proto.Meta{})
	s.Feed(proto.ToClient, []byte("\xff"), proto.Meta{})
	s.Gap(proto.ToClient, 10)
	s.Feed(proto.ToClient, []byte("\xfb\x01Password: "), proto.Meta{})
	s.End(proto.Meta{})
	for _, l := range logins(k.obs) {
		if l.User == "root" {
			t.Errorf("user name stitched across a gap: %+v", l)
		}
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
		{"server negotiation", proto.ToClient, doEcho + doNAWS + willEcho, proto.Yes},
		{"server negotiation seen as client", proto.ToServer, doTType + doNAWS + willSGA, proto.YesReversed},
		{"client negotiation", proto.ToServer, "\xff\xfd\x03" + willTType + willNAWS, proto.Yes},
		{"client negotiation seen as server", proto.ToClient, willTType + willNAWS, proto.YesReversed},
		{"server asks terminal type", proto.ToServer, sbTTypeAsk, proto.YesReversed},
		{"neutral negotiation", proto.ToClient, willSGA, proto.Yes},
		{"negotiation then text", proto.ToClient, willEcho + "\r\nlogin: ", proto.Yes},
		{"lone IAC", proto.ToClient, "\xff", proto.Unsure},
		{"IAC WILL", proto.ToClient, "\xff\xfb", proto.Unsure},
		{"mp3 frame header", proto.ToClient, "\xff\xfb\x90\x64\x00", proto.No},
		{"jpeg", proto.ToClient, "\xff\xd8\xff\xe0\x00\x10JFIF", proto.No},
		{"IAC IAC", proto.ToClient, "\xff\xff\x01", proto.No},
		{"login prompt", proto.ToClient, "\r\nWelcome\r\nrouter login: ", proto.Yes},
		{"login prompt seen as client", proto.ToServer, "Username: ", proto.YesReversed},
		{"password prompt", proto.ToClient, "\r\nUser Access Verification\r\n\r\nPassword: ", proto.Yes},
		{"banner, no prompt yet", proto.ToClient, "\r\nWelcome to the ward console\r\n", proto.Unsure},
		{"last login is no prompt", proto.ToClient, "Last login:", proto.Unsure},
		{"ftp greeting", proto.ToClient, "220 (vsFTPd 3.0.3)\r\n", proto.No},
		{"smtp greeting with login word", proto.ToClient, "220-mail login: ", proto.No},
		{"ssh", proto.ToClient, "SSH-2.0-OpenSSH_9.2\r\n", proto.No},
		{"http", proto.ToServer, "GET / HTTP/1.1\r\n", proto.No},
		{"pop3", proto.ToClient, "+OK ready\r\n", proto.No},
		{"binary", proto.ToClient, "\x16\x03\x01\x02\x00\x01", proto.No},
		{"empty", proto.ToClient, "", proto.Unsure},
	}
	for _, tt := range tests {
		if got := d.Probe(c, tt.dir, []byte(tt.data)); got != tt.want {
			t.Errorf("%s: Probe = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		line   string
		typing bool
		want   promptKind
	}{
		{"pm-1 login: ", false, promptLogin},
		{"Login:", false, promptLogin},
		{"Username:", false, promptLogin},
		{"User Name :", false, promptLogin},
		{"Password: ", false, promptPassword},
		{"root@host's password:", false, promptPassword},
		{"Last login: Sat", false, promptOther},
		{"user@host:~$ ", false, promptShell},
		{"/ # ", false, promptShell},
		{"PM8000> ", false, promptShell},
		{"router>", false, promptOther},
		{"router>", true, promptShell},
		{"Type 'help' for commands.", true, promptOther},
		{"", true, promptOther},
	}
	for _, tt := range tests {
		if got := classify([]byte(tt.line), tt.typing); got != tt.want {
			t.Errorf("classify(%q, %v) = %d, want %d", tt.line, tt.typing, got, tt.want)
		}
	}
}

func TestEscapeSequencesTyped(t *testing.T) {
	// Cursor keys (CSI and SS3 forms) are not text; an IAC inside an
	// escape sequence still counts as a command.
	steps := []step{sc("login: "), cs("ad\x1b[1;5Am\x1bOBin\r\n"), sc("Password: "), cs("p\x1b\xff\xf7w\r\n"), sc("\r\n$ ")}
	chk := &pairChecker{user: "admin", password: "w"}
	obs := play(New(chk), steps, whole)
	ls := logins(obs)
	if len(ls) != 1 || ls[0].User != "admin" || ls[0].Outcome != OutcomeSuccess || !ls[0].DefaultCredential {
		t.Fatalf("observations:\n%s", summary(obs))
	}
}
