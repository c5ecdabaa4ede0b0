package ftp

import (
	"bytes"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Outcome of a login attempt.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

const (
	maxUser    = 64 // user name reported
	maxPending = 8  // commands awaiting a reply
	maxFacts   = 8
)

// verbs are the commands counted by name (RFC 959, 2228, 2389, 2428, 2640,
// 3659, 4217, 7151 and the common X* and vendor extensions); others count
// as "other".
var verbs = [...]string{
	"ABOR", "ACCT", "ADAT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CLNT", "CONF",
	"CWD", "DELE", "ENC", "EPRT", "EPSV", "FEAT", "HELP", "HOST", "LANG", "LIST",
	"MDTM", "MFCT", "MFF", "MFMT", "MIC", "MKD", "MLSD", "MLST", "MODE", "NLST",
	"NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "REIN",
	"REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR",
	"STOU", "STRU", "SYST", "TYPE", "USER", "XCUP", "XMKD", "XPWD", "XRMD",
}

// verbIndex maps a verb to its counter; read-only after initialisation.
var verbIndex = func() map[string]uint8 {
	m := make(map[string]uint8, len(verbs))
	for i, v := range &verbs {
		m[v] = uint8(i)
	}
	return m
}()

// verb ids the session branches on
var (
	vUSER = verbIndex["USER"]
	vPASS = verbIndex["PASS"]
	vACCT = verbIndex["ACCT"]
	vAUTH = verbIndex["AUTH"]
	vSYST = verbIndex["SYST"]
	vPASV = verbIndex["PASV"]
	vEPSV = verbIndex["EPSV"]
	vPORT = verbIndex["PORT"]
	vEPRT = verbIndex["EPRT"]
	vRETR = verbIndex["RETR"]
	vSTOR = verbIndex["STOR"]
	vAPPE = verbIndex["APPE"]
	vSTOU = verbIndex["STOU"]
)

const vOther = 255

// attempt stages
const (
	stageNone = iota
	stageUser // USER sent, its reply pending
	stagePass // asked for (or sent) the password
	stageAcct // asked for an account
)

type attempt struct {
	stage     uint8
	n         int
	user      string
	password  bool
	isDefault bool
}

type fact struct {
	attr  event.Attr
	value string
	conf  float64
}

type session struct {
	d   *Dissector
	c   *proto.Conn
	out proto.Sink

	discard [2]bool // skipping the rest of an over-long line
	bytes   [2]int

	multi   int // code of the open multi-line reply, 0 if none
	greeted bool
	banner  []byte

	pending  [maxPending]uint8
	npending int

	att      attempt
	attempts int    // attempts begun, numbering them
	outcomes [3]int // reported attempts: success, failure, unknown
	reported int

	tls         bool
	authRefused bool
	authMech    string

	counts    [len(verbs) + 1]int
	endpoints []string
	nEndpts   int

	facts      []fact
	emitted    []string
	bannerSent bool
	truncated  bool
	done       bool
	ended      bool
}

func newSession(d *Dissector, c *proto.Conn, out proto.Sink) *session {
	return &session{d: d, c: c, out: out}
}

// Feed implements proto.Session. Whole lines are consumed; an unfinished
// line is left for the engine to give again with more data.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if s.done {
		return len(data), true
	}
	d := dir & 1
	used := 0
	for used < len(data) && !s.done {
		rest := data[used:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) < s.d.lim.MaxLine && !s.discard[d] {
				break
			}
			// Too long to be a command or reply line: skip to its end.
			s.discard[d] = true
			used = len(data)
			break
		}
		line := rest[:i]
		used += i + 1
		if s.discard[d] {
			s.discard[d] = false
			continue
		}
		line = bytes.TrimRight(line, "\r")
		if dir == proto.ToServer {
			s.command(line, m)
		} else {
			s.reply(line, m)
		}
	}
	s.bytes[d] += used
	if !s.done && s.bytes[d] >= s.d.lim.MaxBytes {
		s.truncated = true
		s.finish(m)
	}
	if s.done {
		return len(data), true
	}
	return used, false
}

// Gap implements proto.Session: a line cut by lost bytes is not parsed,
// and replies can no longer be matched to commands.
func (s *session) Gap(dir proto.Dir, n int) {
	s.discard[dir&1] = true
	s.multi = 0
	s.npending = 0
}

// End implements proto.Session.
func (s *session) End(m proto.Meta) { s.finish(m) }

func (s *session) finish(m proto.Meta) {
	if s.ended {
		return
	}
	s.ended = true
	if s.att.stage != stageNone && s.att.password {
		// An attempt without a password and without a verdict (a USER the
		// server never answered) is not reported: nothing was tried.
		s.report(OutcomeUnknown, m)
	}
	s.sendBanner(m)
	s.summary(m)
	s.done = true
}

// command handles one client line.
func (s *session) command(line []byte, m proto.Meta) {
	line = stripTelnet(line)
	sp := bytes.IndexByte(line, ' ')
	verb, arg := line, []byte(nil)
	if sp >= 0 {
		verb, arg = line[:sp], line[sp+1:]
	}
	if len(verb) < 3 || len(verb) > 4 {
		return
	}
	var up [4]byte
	for i, c := range verb {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			return
		}
		up[i] = c
	}
	v, ok := verbIndex[string(up[:len(verb)])]
	if !ok {
		v = vOther
		s.counts[len(verbs)]++
	} else {
		s.counts[v]++
	}
	if v != vAUTH {
		// The client goes on in cleartext: the greeting is complete.
		s.sendBanner(m)
	}
	switch v {
	case vUSER:
		if s.att.stage != stageNone && s.att.password {
			s.report(OutcomeUnknown, m)
		}
		s.begin(printable(bytes.TrimSpace(arg), maxUser))
	case vPASS:
		if s.att.stage == stageNone || s.att.password {
			// PASS without USER, or a second PASS: a new attempt for the
			// same (or no) user.
			user := s.att.user
			if s.att.stage != stageNone {
				s.report(OutcomeUnknown, m)
			}
			s.begin(user)
		}
		s.att.stage = stagePass
		s.att.password = true
		if s.d.check != nil {
			s.att.isDefault = s.d.check.IsDefault(s.att.user, string(arg))
		}
	case vAUTH:
		s.authMech = printable(bytes.ToUpper(bytes.TrimSpace(arg)), 16)
	case vPORT:
		if ap, ok := parseHostPort(arg); ok {
			s.endpoint(ap)
		}
	case vEPRT:
		if ap, ok := parseEPRT(arg); ok {
			s.endpoint(ap)
		}
	}
	s.push(v)
}

// stripTelnet drops Telnet commands before a command (RFC 959 has the
// client send IAC IP IAC DM before ABOR).
func stripTelnet(line []byte) []byte {
	for len(line) >= 2 && line[0] == 0xff {
		line = line[2:]
	}
	return line
}

func (s *session) push(v uint8) {
	if s.npending == maxPending {
		copy(s.pending[:], s.pending[1:])
		s.npending--
	}
	s.pending[s.npending] = v
	s.npending++
}

func (s *session) pop() (uint8, bool) {
	if s.npending == 0 {
		return 0, false
	}
	v := s.pending[0]
	copy(s.pending[:], s.pending[1:s.npending])
	s.npending--
	return v, true
}

// reply handles one server line, following multi-line replies.
func (s *session) reply(line []byte, m proto.Meta) {
	code, sep := replyCode(line)
	if s.multi != 0 {
		if code == s.multi && sep == ' ' {
			s.multi = 0
			s.final(code, line[min(4, len(line)):], m)
			return
		}
		if !s.greeted {
			s.bannerLine(trimCode(line, s.multi))
		}
		return
	}
	if code == 0 {
		return
	}
	text := line[min(4, len(line)):]
	if sep == '-' {
		s.multi = code
		if !s.greeted && code == 220 {
			s.bannerLine(text)
		}
		return
	}
	s.final(code, text, m)
}

// replyCode returns the three-digit code of a reply line and the byte
// after it (' ' when the line is just the code).
func replyCode(line []byte) (int, byte) {
	if len(line) < 3 || !allDigits(line[:3]) || line[0] < '1' || line[0] > '6' {
		return 0, 0
	}
	sep := byte(' ')
	if len(line) > 3 {
		sep = line[3]
		if sep != ' ' && sep != '-' {
			return 0, 0
		}
	}
	return int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0'), sep
}

// trimCode removes a repeated "ddd-" from a continuation line.
func trimCode(line []byte, code int) []byte {
	if c, sep := replyCode(line); c == code && sep == '-' {
		return line[4:]
	}
	return line
}

// final handles the last line of a reply.
func (s *session) final(code int, text []byte, m proto.Meta) {
	if !s.greeted {
		switch {
		case code < 200:
			// 120: ready in a few minutes; the greeting follows.
			s.bannerLine(text)
			return
		case code == 220:
			s.greeted = true
			s.bannerLine(text)
			s.scanBanner()
			return
		case code >= 400:
			// 421: the server refused the connection; there will be no
			// login.
			s.greeted = true
			s.bannerLine(text)
			return
		}
		// A capture begun mid-session: no greeting to read.
		s.greeted = true
	}
	if code < 200 {
		return // preliminary: the final reply follows
	}
	v, ok := s.pop()
	if !ok {
		return
	}
	switch v {
	case vUSER, vPASS, vACCT:
		s.loginReply(v, code, m)
	case vAUTH:
		if code == 234 || code == 334 {
			// The control connection is protected from here on (TLS, or a
			// GSSAPI exchange): nothing more can be read.
			s.tls = true
			s.finish(m)
			return
		}
		s.authRefused = true
		s.sendBanner(m)
	case vSYST:
		if code == 215 {
			s.addFact(event.AttrOS, printable(bytes.TrimSpace(text), 64), 0.5)
		}
	case vPASV:
		if code == 227 {
			if ap, ok := parsePASV(text); ok {
				s.endpoint(ap)
			}
		}
	case vEPSV:
		if code == 229 {
			if p, ok := parseEPSV(text); ok && s.c.Server.IP.IsValid() {
				s.endpoint(netip.AddrPortFrom(s.c.Server.IP, p))
			}
		}
	}
}

// loginReply applies the server's answer to USER, PASS or ACCT.
func (s *session) loginReply(v uint8, code int, m proto.Meta) {
	if s.att.stage == stageNone {
		return
	}
	switch {
	case code == 230 || code == 202:
		s.report(OutcomeSuccess, m)
	case code == 331:
		s.att.stage = stagePass
	case code == 332:
		s.att.stage = stageAcct
	case code >= 400:
		s.report(OutcomeFailure, m)
	}
}

func (s *session) begin(user string) {
	s.attempts++
	s.att = attempt{stage: stageUser, n: s.attempts, user: user}
}

// isAnonymous says whether user is one of the names RFC 1635 reserves for
// anonymous FTP.
func isAnonymous(user string) bool {
	return equalFold(user, "anonymous") || equalFold(user, "ftp")
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// report emits the current attempt and clears it.
func (s *session) report(outcome string, m proto.Meta) {
	a := s.att
	s.att = attempt{}
	switch outcome {
	case OutcomeSuccess:
		s.outcomes[0]++
	case OutcomeFailure:
		s.outcomes[1]++
	default:
		s.outcomes[2]++
	}
	if s.reported >= s.d.lim.MaxLogins {
		return
	}
	s.reported++
	s.sendBanner(m)
	anon := isAnonymous(a.user)
	o := s.c.Observation(proto.ToServer, "login", m)
	o.Detail = &LoginDetail{
		User:              a.user,
		Outcome:           outcome,
		Attempt:           a.n,
		PasswordSent:      a.password,
		Anonymous:         anon,
		DefaultCredential: a.isDefault,
	}
	o.Facts = s.takeFacts(event.AboutDst)
	if a.password {
		d := "user name and password sent in cleartext (FTP USER/PASS)"
		if anon {
			d = "anonymous FTP password (an e-mail address by convention) sent in cleartext"
		}
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCleartextCredentials, About: event.AboutDst, Detail: d})
	}
	if a.isDefault && outcome != OutcomeFailure {
		d := "known default user name and password accepted over FTP"
		if outcome == OutcomeUnknown {
			d = "known default user name and password tried over FTP (outcome not seen)"
		}
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakDefaultCredentials, About: event.AboutDst, Detail: d})
	}
	if anon && outcome == OutcomeSuccess {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakUnauthenticated, About: event.AboutDst,
			Detail: "anonymous FTP login accepted",
		})
	}
	s.out.Observe(o)
}

// bannerLine adds one line of the greeting.
func (s *session) bannerLine(text []byte) {
	if len(s.banner) >= s.d.lim.BannerBytes {
		return
	}
	if s.banner == nil {
		s.banner = make([]byte, 0, s.d.lim.BannerBytes)
	} else if len(s.banner) > 0 {
		s.banner = append(s.banner, '\n')
	}
	n := min(len(text), s.d.lim.BannerBytes-len(s.banner))
	s.banner = append(s.banner, text[:n]...)
}

// scanBanner looks for the server software in the greeting.
func (s *session) scanBanner() {
	for _, p := range softwarePatterns {
		sub := p.re.FindSubmatchIndex(s.banner)
		if sub == nil {
			continue
		}
		v := p.re.Expand(nil, []byte(p.tmpl), s.banner, sub)
		s.addFact(event.AttrSoftware, printable(bytes.TrimSpace(v), 64), 0.9)
		if p.os != "" {
			s.addFact(event.AttrOS, p.os, 0.6)
		}
		break
	}
}

// sendBanner emits the banner observation once.
func (s *session) sendBanner(m proto.Meta) {
	if s.bannerSent {
		return
	}
	s.bannerSent = true
	o := s.c.Observation(proto.ToClient, "banner", m)
	o.Detail = &BannerDetail{Banner: cleanText(s.banner), TLS: s.tls, AuthRefused: s.authRefused}
	o.Facts = append(o.Facts,
		event.Fact{About: event.AboutSrc, Attr: event.AttrServer, Value: "ftp", Confidence: 1},
		event.Fact{About: event.AboutDst, Attr: event.AttrClient, Value: "ftp", Confidence: 1},
	)
	o.Facts = append(o.Facts, s.takeFacts(event.AboutSrc)...)
	// The greeting often names the device ("PM-8000 FTP service ready"):
	// the inventory reads device kinds from banner facts.
	if b := o.Detail.(*BannerDetail).Banner; b != "" {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: event.AttrBanner, Value: b, Confidence: 0.9})
	}
	if !s.tls {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakCleartextLogin, About: event.AboutSrc,
			Detail: "FTP service offers cleartext login (no AUTH TLS used)",
		})
	}
	s.banner = nil
	s.out.Observe(o)
}

// summary emits the session-summary observation.
func (s *session) summary(m proto.Meta) {
	o := s.c.Observation(proto.ToServer, "session-summary", m)
	d := &SummaryDetail{
		LoginAttempts:     s.outcomes[0] + s.outcomes[1] + s.outcomes[2],
		LoginsOK:          s.outcomes[0],
		LoginsFailed:      s.outcomes[1],
		DataEndpoints:     s.endpoints,
		DataEndpointCount: s.nEndpts,
		TLS:               s.tls,
		AuthMechanism:     s.authMech,
		Truncated:         s.truncated,
	}
	for i, n := range s.counts {
		if n == 0 {
			continue
		}
		if d.Commands == nil {
			d.Commands = map[string]int{}
		}
		name := "other"
		if i < len(verbs) {
			name = verbs[i]
		}
		d.Commands[name] = n
	}
	o.Detail = d
	o.Facts = s.takeFacts(event.AboutDst)
	// What the client did matters for the roles of both ends: a device
	// that uploads (STOR) is a producer, one that downloads a consumer.
	if s.counts[vRETR] > 0 {
		o.Facts = append(o.Facts,
			event.Fact{About: event.AboutSrc, Attr: event.AttrClient, Value: "ftp:retr", Confidence: 1},
			event.Fact{About: event.AboutDst, Attr: event.AttrServer, Value: "ftp:retr", Confidence: 1})
	}
	if s.counts[vSTOR]+s.counts[vAPPE]+s.counts[vSTOU] > 0 {
		o.Facts = append(o.Facts,
			event.Fact{About: event.AboutSrc, Attr: event.AttrClient, Value: "ftp:stor", Confidence: 1},
			event.Fact{About: event.AboutDst, Attr: event.AttrServer, Value: "ftp:stor", Confidence: 1})
	}
	s.out.Observe(o)
}

func (s *session) endpoint(ap netip.AddrPort) {
	// The engine labels the data connection and links it to this one.
	if ex, ok := s.out.(proto.Expecter); ok && ap.IsValid() && ap.Port() != 0 {
		ex.Expect(ap, DataName)
	}
	s.nEndpts++
	if len(s.endpoints) < s.d.lim.MaxEndpoints {
		s.endpoints = append(s.endpoints, ap.String())
	}
}

func (s *session) addFact(attr event.Attr, value string, conf float64) {
	if value == "" || len(s.emitted) >= maxFacts {
		return
	}
	key := string(attr) + "=" + value
	for _, e := range s.emitted {
		if e == key {
			return
		}
	}
	s.emitted = append(s.emitted, key)
	s.facts = append(s.facts, fact{attr, value, conf})
}

// takeFacts hands the pending facts, about the server, to an observation.
func (s *session) takeFacts(about event.About) []event.Fact {
	if len(s.facts) == 0 {
		return nil
	}
	out := make([]event.Fact, len(s.facts))
	for i, f := range s.facts {
		out[i] = event.Fact{About: about, Attr: f.attr, Value: f.value, Confidence: f.conf}
	}
	s.facts = s.facts[:0]
	return out
}

// parseHostPort parses PORT's and PASV's "h1,h2,h3,h4,p1,p2".
func parseHostPort(b []byte) (netip.AddrPort, bool) {
	var n [6]int
	k := 0
	cur, digits := 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == ',' {
			if digits == 0 || k == 6 {
				return netip.AddrPort{}, false
			}
			n[k] = cur
			k++
			cur, digits = 0, 0
			continue
		}
		c := b[i]
		if !isDigit(c) || digits == 3 {
			return netip.AddrPort{}, false
		}
		cur = cur*10 + int(c-'0')
		digits++
		if cur > 255 {
			return netip.AddrPort{}, false
		}
	}
	if k != 6 {
		return netip.AddrPort{}, false
	}
	ip := netip.AddrFrom4([4]byte{byte(n[0]), byte(n[1]), byte(n[2]), byte(n[3])})
	return netip.AddrPortFrom(ip, uint16(n[4]<<8|n[5])), true
}

// parsePASV finds the address in a 227 reply. RFC 959 does not fix the
// text around it: most servers put it in parentheses, some do not.
func parsePASV(text []byte) (netip.AddrPort, bool) {
	if i := bytes.IndexByte(text, '('); i >= 0 {
		if j := bytes.IndexByte(text[i:], ')'); j > 0 {
			return parseHostPort(bytes.TrimSpace(text[i+1 : i+j]))
		}
	}
	// Take the first run of digits and commas.
	for i := 0; i < len(text); i++ {
		if isDigit(text[i]) {
			j := i
			for j < len(text) && (isDigit(text[j]) || text[j] == ',') {
				j++
			}
			return parseHostPort(bytes.TrimRight(text[i:j], ","))
		}
	}
	return netip.AddrPort{}, false
}

// parseEPSV finds the port in a 229 reply: "(|||port|)", any delimiter.
func parseEPSV(text []byte) (uint16, bool) {
	i := bytes.IndexByte(text, '(')
	if i < 0 || len(text) < i+6 {
		return 0, false
	}
	b := text[i+1:]
	d := b[0]
	if d < 33 || d > 126 || b[1] != d || b[2] != d {
		return 0, false
	}
	b = b[3:]
	j := bytes.IndexByte(b, d)
	if j <= 0 || j > 5 || !allDigits(b[:j]) {
		return 0, false
	}
	p, err := strconv.Atoi(string(b[:j]))
	if err != nil || p <= 0 || p > 65535 {
		return 0, false
	}
	return uint16(p), true
}

// parseEPRT parses EPRT's "<d>proto<d>address<d>port<d>" (RFC 2428).
func parseEPRT(b []byte) (netip.AddrPort, bool) {
	b = bytes.TrimSpace(b)
	if len(b) < 7 {
		return netip.AddrPort{}, false
	}
	d := b[0]
	if d < 33 || d > 126 {
		return netip.AddrPort{}, false
	}
	parts := bytes.SplitN(b[1:], []byte{d}, 4)
	if len(parts) != 4 || len(parts[3]) != 0 {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(string(parts[1]))
	if err != nil || ip.Zone() != "" {
		return netip.AddrPort{}, false
	}
	switch string(parts[0]) {
	case "1":
		if !ip.Is4() {
			return netip.AddrPort{}, false
		}
	case "2":
		if !ip.Is6() {
			return netip.AddrPort{}, false
		}
	default:
		return netip.AddrPort{}, false
	}
	if len(parts[2]) == 0 || len(parts[2]) > 5 || !allDigits(parts[2]) {
		return netip.AddrPort{}, false
	}
	p, err := strconv.Atoi(string(parts[2]))
	if err != nil || p <= 0 || p > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(p)), true
}

// printable returns b as valid UTF-8 without control characters, cut to
// at most n bytes.
func printable(b []byte, n int) string {
	out := make([]byte, 0, min(len(b), n))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size <= 1 {
			r = '?'
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		if len(out)+utf8.RuneLen(r) > n {
			break
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// cleanText keeps the greeting's lines without control characters.
func cleanText(b []byte) string {
	var out []byte
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		l := printable(bytes.TrimSpace(line), len(line))
		if l == "" {
			continue
		}
		if len(out) > 0 {
			out = append(out, '\n')
		}
		out = append(out, l...)
	}
	return string(out)
}
