package telnet

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Bounds of what one session holds.
const (
	maxLine  = 256  // server line kept (its tail: prompts are at the end)
	maxTyped = 256  // client line kept; longer lines are marked overflowing
	maxUser  = 64   // user name reported
	sbKeep   = 256  // subnegotiation bytes kept for decoding
	sbMax    = 8192 // a subnegotiation longer than this is abandoned
	maxFacts = 16   // distinct facts reported per flow
	// maxBannerFacts bounds the banner lines reported per flow.
	maxBannerFacts = 6
)

// Parser states of one direction's command layer.
const (
	stData  = iota
	stIAC   // after IAC
	stOpt   // after IAC WILL/WONT/DO/DONT, waiting for the option
	stSB    // inside IAC SB … IAC SE
	stSBIAC // IAC inside a subnegotiation
	stESC   // after ESC in text
	stCSI   // inside an ANSI control sequence (ESC [ … final byte)
	stSS3   // after ESC O, before its one final byte
)

// dirState is the command-layer parser of one direction.
type dirState struct {
	st     uint8
	verb   byte
	cr     bool // last text byte was CR: a following LF or NUL ends nothing
	sb     [sbKeep]byte
	sbLen  int
	sbSeen int
	bytes  int
}

// Outcome of a login attempt.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

// attempt stages
const (
	stageNone     = iota
	stageUser     // user name typed, waiting for a password prompt or verdict
	stagePassword // password typed, waiting for the verdict
	stagePost     // accepted: reading the message of the day for facts
)

type attempt struct {
	stage     uint8
	n         int
	user      string
	password  bool // a password line was typed
	isDefault bool
	meta      proto.Meta // packet that decided the outcome
	postBytes int
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

	dir [2]dirState

	// server screen: the current line (its tail) and the last non-empty
	// completed line
	line    [maxLine]byte
	lineLen int
	last    [maxLine]byte
	lastLen int

	// client typing
	typed    [maxTyped]byte
	typedLen int
	typing   bool
	overflow bool
	prompt   promptKind

	// shown counts server text bytes; answered is its value when the
	// client last ended a line. Equal values mean the server has said
	// nothing since: its screen still shows what the client answered.
	shown, answered uint64

	banner     []byte
	bannerDone bool
	bannerSent bool
	banners    int
	// pendingBanners are server lines seen after a password, kept until
	// the login's verdict.
	pendingBanners []string
	scanned        int // bytes of server text searched for facts

	att      attempt
	attempts int
	sawLogin bool // a login or password prompt was answered
	shell    bool // a command prompt was answered before any login
	tls      bool

	options [4][32]byte // server WILL, server DO, client WILL, client DO
	ttype   string
	cols    int
	rows    int
	envUser string

	facts   []fact // found, not yet attached to an observation
	emitted []string

	done bool
}

func newSession(d *Dissector, c *proto.Conn, out proto.Sink) *session {
	return &session{d: d, c: c, out: out}
}

// Feed implements proto.Session. Every byte is consumed: the parser keeps
// its state between calls, so input may be split anywhere.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if s.done {
		return len(data), true
	}
	ds := &s.dir[dir&1]
	ds.bytes += len(data)
	for _, b := range data {
		s.byte(dir, ds, b, m)
		if s.done {
			return len(data), true
		}
	}
	if dir == proto.ToClient {
		s.screenSettled(m)
	}
	if !s.done && ds.bytes >= s.d.lim.MaxBytes {
		s.finish(m)
	}
	return len(data), s.done
}

// Gap implements proto.Session: the lost bytes may have held anything, so
// the parser and the line being built start afresh.
func (s *session) Gap(dir proto.Dir, n int) {
	ds := &s.dir[dir&1]
	ds.st, ds.cr, ds.sbLen, ds.sbSeen = stData, false, 0, 0
	if dir == proto.ToServer {
		s.resetTyped()
	} else {
		s.lineLen = 0
	}
}

// End implements proto.Session.
func (s *session) End(m proto.Meta) {
	s.finish(m)
}

// finish reports what is still held and stops the session.
func (s *session) finish(m proto.Meta) {
	if s.att.stage == stagePost {
		s.report(OutcomeSuccess, s.att.meta)
	} else if s.att.stage != stageNone && s.att.password {
		// An attempt without a password and without a verdict is not
		// reported: nothing was tried.
		s.att.meta = m
		s.report(OutcomeUnknown, m)
	}
	s.sendBanner(m)
	s.resetTyped()
	s.done = true
}

// byte runs the command-layer parser on one byte of dir.
func (s *session) byte(dir proto.Dir, ds *dirState, b byte, m proto.Meta) {
	switch ds.st {
	case stData:
		if b == cmdIAC {
			ds.st = stIAC
			return
		}
		s.text(dir, ds, b, m)
	case stESC, stCSI, stSS3:
		switch {
		case b == cmdIAC:
			ds.st = stIAC // a command ends any escape sequence
		case ds.st == stESC && b == '[':
			ds.st = stCSI
		case ds.st == stESC && b == 'O':
			ds.st = stSS3 // ESC O x: cursor and function keys
		case ds.st == stCSI && (b < 0x40 || b > 0x7e):
			// parameters: the sequence goes on
		default:
			ds.st = stData
		}
	case stIAC:
		ds.st = stData
		switch {
		case b == cmdIAC:
			s.text(dir, ds, b, m) // an escaped 0xFF data byte
		case b >= cmdWILL && b <= cmdDONT:
			ds.verb, ds.st = b, stOpt
		case b == cmdSB:
			ds.st, ds.sbLen, ds.sbSeen = stSB, 0, 0
		case b == cmdEC && dir == proto.ToServer:
			s.erase()
		case b == cmdEL && dir == proto.ToServer:
			s.typedLen = 0
		}
	case stOpt:
		ds.st = stData
		s.negotiate(dir, ds.verb, b)
	case stSB:
		if b == cmdIAC {
			ds.st = stSBIAC
			return
		}
		s.sbByte(ds, b)
	case stSBIAC:
		switch b {
		case cmdIAC:
			ds.st = stSB
			s.sbByte(ds, b)
		case cmdSE:
			ds.st = stData
			s.subnegotiation(dir, ds.sb[:ds.sbLen], m)
		default:
			// A command inside a subnegotiation is malformed; treat it as
			// the end of the subnegotiation and go on with text.
			ds.st = stData
		}
	}
}

func (s *session) sbByte(ds *dirState, b byte) {
	if ds.sbLen < len(ds.sb) {
		ds.sb[ds.sbLen] = b
		ds.sbLen++
	}
	ds.sbSeen++
	if ds.sbSeen > sbMax {
		// Never closed: stop swallowing the stream.
		ds.st = stData
	}
}

// negotiate records one option offer or request.
func (s *session) negotiate(dir proto.Dir, verb, opt byte) {
	i := -1
	switch {
	case dir == proto.ToClient && verb == cmdWILL:
		i = 0
	case dir == proto.ToClient && verb == cmdDO:
		i = 1
	case dir == proto.ToServer && verb == cmdWILL:
		i = 2
	case dir == proto.ToServer && verb == cmdDO:
		i = 3
	}
	if i >= 0 {
		s.options[i][opt>>3] |= 1 << (opt & 7)
	}
}

// subnegotiation decodes the subnegotiations worth reporting: terminal
// type, window size, the USER environment variable, and START-TLS.
func (s *session) subnegotiation(dir proto.Dir, sb []byte, m proto.Meta) {
	if len(sb) == 0 {
		return
	}
	opt, body := sb[0], sb[1:]
	switch opt {
	case optTType:
		if dir == proto.ToServer && len(body) > 1 && body[0] == 0 && s.ttype == "" {
			s.ttype = printable(body[1:], 40)
		}
	case optNAWS:
		if dir == proto.ToServer && len(body) == 4 {
			s.cols = int(body[0])<<8 | int(body[1])
			s.rows = int(body[2])<<8 | int(body[3])
		}
	case optNewEnviron:
		if dir == proto.ToServer && len(body) > 0 && (body[0] == 0 || body[0] == 2) && s.envUser == "" {
			s.envUser = environUser(body[1:])
		}
	case optStartTLS:
		// RFC draft-altman-telnet-starttls: FOLLOWS (1) means TLS starts
		// right after; nothing more can be read.
		if len(body) > 0 && body[0] == 1 {
			s.tls = true
			s.finish(m)
		}
	}
}

// environUser finds the USER variable in a NEW-ENVIRON IS/INFO list
// (RFC 1572): VAR (0) or USERVAR (3) name, VALUE (1) value, ESC (2)
// escaping the next byte.
func environUser(b []byte) string {
	var name, value []byte
	var cur *[]byte
	flush := func() string {
		if string(name) == "USER" && len(value) > 0 {
			return printable(value, maxUser)
		}
		return ""
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case 0, 3:
			if u := flush(); u != "" {
				return u
			}
			name, value = name[:0], value[:0]
			cur = &name
		case 1:
			cur = &value
		case 2:
			if i+1 < len(b) && cur != nil {
				i++
				*cur = append(*cur, b[i])
			}
		default:
			if cur != nil {
				*cur = append(*cur, c)
			}
		}
	}
	return flush()
}

// text handles one data byte of dir.
func (s *session) text(dir proto.Dir, ds *dirState, b byte, m proto.Meta) {
	if b == 0x1b {
		// ANSI escape sequences (colours, cursor keys) are not text.
		ds.st = stESC
		return
	}
	if dir == proto.ToServer {
		s.typedByte(ds, b, m)
		return
	}
	s.shown++
	if ds.cr && (b == '\n' || b == 0) {
		ds.cr = false
		return
	}
	ds.cr = b == '\r'
	switch {
	case b == '\r' || b == '\n':
		s.bannerByte('\n')
		s.serverLine(m)
	case b == 0x08:
		if s.lineLen > 0 {
			s.lineLen--
		}
	case b < 0x20 || b == 0x7f:
		// bells and other controls carry nothing
	default:
		s.bannerByte(b)
		if s.lineLen == len(s.line) {
			// Keep the tail: prompts end the line.
			copy(s.line[:], s.line[len(s.line)/2:])
			s.lineLen = len(s.line) - len(s.line)/2
		}
		s.line[s.lineLen] = b
		s.lineLen++
	}
}

// bannerByte keeps server text until the client first answers a prompt.
func (s *session) bannerByte(b byte) {
	if s.bannerDone || len(s.banner) >= s.d.lim.BannerBytes {
		return
	}
	if b == '\n' && (len(s.banner) == 0 || s.banner[len(s.banner)-1] == '\n') {
		return
	}
	if s.banner == nil {
		s.banner = make([]byte, 0, s.d.lim.BannerBytes)
	}
	s.banner = append(s.banner, b)
}

// serverLine handles a completed server line.
func (s *session) serverLine(m proto.Meta) {
	line := s.line[:s.lineLen]
	s.lineLen = 0
	if len(trimSpace(line)) == 0 {
		return
	}
	s.scanFacts(line)
	copy(s.last[:], line)
	s.lastLen = len(line)
	switch s.att.stage {
	case stageUser, stagePassword:
		if isFailure(line) {
			s.outcome(OutcomeFailure, m)
		} else if isLastLogin(line) {
			s.outcome(OutcomeSuccess, m)
		}
	case stagePost:
		s.att.postBytes += len(line)
		if s.att.postBytes >= s.d.lim.PostLoginBytes {
			s.report(OutcomeSuccess, s.att.meta)
			s.finish(m)
		}
	}
}

// screenSettled looks at the server's unfinished line once the server
// has paused (the end of its segment): a prompt waiting for input shows
// there.
func (s *session) screenSettled(m proto.Meta) {
	line := s.line[:s.lineLen]
	if s.att.stage == stageNone || s.shown == s.answered || len(trimSpace(line)) == 0 {
		// Nothing new since the client answered: the line may still be
		// the prompt it answered.
		return
	}
	if s.att.stage == stagePost {
		if isShellEnd(line, false) {
			s.report(OutcomeSuccess, s.att.meta)
			s.finish(m)
		}
		return
	}
	switch {
	case isFailure(line):
		s.outcome(OutcomeFailure, m)
	case isLastLogin(line):
		s.outcome(OutcomeSuccess, m)
	case classify(line, false) == promptShell:
		s.outcome(OutcomeSuccess, m)
	case classify(line, false) == promptLogin:
		// Asked for a user name again: the last one was refused.
		s.outcome(OutcomeFailure, m)
	}
}

// screen returns the text the client is answering: the server's
// unfinished line, or its last line when the prompt ended with a newline.
func (s *session) screen() []byte {
	if len(trimSpace(s.line[:s.lineLen])) > 0 {
		return s.line[:s.lineLen]
	}
	return s.last[:s.lastLen]
}

// typedByte builds the client's line the way a terminal line discipline
// would: printable bytes append, BS and DEL erase, ^U kills the line, ^W
// the last word, CR LF, CR NUL, lone CR or LF end it.
func (s *session) typedByte(ds *dirState, b byte, m proto.Meta) {
	if ds.cr && (b == '\n' || b == 0) {
		ds.cr = false
		return
	}
	ds.cr = b == '\r'
	switch {
	case b == '\r' || b == '\n':
		s.typedLine(m)
	case b == 0x08 || b == 0x7f:
		s.erase()
	case b == 0x15:
		s.typedLen = 0
	case b == 0x17:
		for s.typedLen > 0 && s.typed[s.typedLen-1] == ' ' {
			s.typedLen--
		}
		for s.typedLen > 0 && s.typed[s.typedLen-1] != ' ' {
			s.typedLen--
		}
	case b == 0x03:
		s.resetTyped()
	case b < 0x20:
	default:
		if !s.typing {
			s.startTyping(m)
			if s.done {
				return
			}
		}
		if s.typedLen < len(s.typed) {
			s.typed[s.typedLen] = b
			s.typedLen++
		} else {
			s.overflow = true
		}
	}
}

func (s *session) erase() {
	if s.typedLen > 0 {
		s.typedLen--
	}
}

// startTyping notes what the client is answering when it starts a line.
func (s *session) startTyping(m proto.Meta) {
	s.typing = true
	if s.shown == s.answered {
		// Typed ahead of any new prompt: what it answers is unknown, and
		// guessing could report a password as a user name.
		s.prompt = promptOther
		return
	}
	s.prompt = classify(s.screen(), true)
	if s.prompt == promptLogin {
		s.screenHost(s.screen())
	}
	if !s.bannerDone && s.prompt != promptOther {
		// The first answer to a prompt ends the greeting.
		if s.prompt == promptShell && !s.sawLogin && s.att.stage == stageNone {
			s.shell = true
		}
		s.sendBanner(m)
		if s.shell {
			// A shell without a login: what follows are commands, which
			// may name anything; there is nothing more to learn.
			s.resetTyped()
			s.finish(m)
		}
	}
}

// typedLine handles a completed client line.
func (s *session) typedLine(m proto.Meta) {
	if !s.typing {
		s.startTyping(m)
		if s.done {
			return
		}
	}
	typed := s.typed[:s.typedLen]
	switch s.prompt {
	case promptLogin:
		s.sawLogin = true
		if s.att.stage == stageUser || s.att.stage == stagePassword {
			// Asked for a user name again without a word: refused.
			s.outcome(OutcomeFailure, m)
		}
		if u := trimSpace(typed); len(u) > 0 && !s.done && s.att.stage == stageNone {
			s.begin(printable(u, maxUser))
		}
	case promptPassword:
		s.sawLogin = true
		switch s.att.stage {
		case stageNone:
			s.begin(s.envUser) // asked for a password only
		case stagePassword:
			// Asked for a password again: the last one was refused.
			user := s.att.user
			s.outcome(OutcomeFailure, m)
			if s.done {
				break
			}
			s.begin(user)
		}
		if s.done || s.att.stage == stagePost {
			break
		}
		s.att.stage = stagePassword
		s.att.password = true
		if !s.overflow && s.d.check != nil {
			s.att.isDefault = s.d.check.IsDefault(s.att.user, string(typed))
		}
	case promptShell:
		switch s.att.stage {
		case stageUser, stagePassword:
			s.outcome(OutcomeSuccess, m)
		case stagePost:
			s.report(OutcomeSuccess, s.att.meta)
			s.finish(m)
		}
	}
	s.answered = s.shown
	s.resetTyped()
}

// resetTyped forgets the typed line, overwriting it: it may have been a
// password.
func (s *session) resetTyped() {
	clear(s.typed[:])
	s.typedLen = 0
	s.typing = false
	s.overflow = false
	s.prompt = promptOther
}

// begin starts attempt number n for user.
func (s *session) begin(user string) {
	s.attempts++
	s.att = attempt{stage: stageUser, n: s.attempts, user: user}
}

// outcome records the server's verdict on the current attempt.
func (s *session) outcome(o string, m proto.Meta) {
	if s.att.stage != stageUser && s.att.stage != stagePassword {
		return
	}
	if o == OutcomeSuccess {
		for _, b := range s.pendingBanners {
			s.addBanner(b)
		}
		s.pendingBanners = s.pendingBanners[:0]
		// Report once the message of the day has been read for facts.
		s.att.stage = stagePost
		s.att.meta = m
		return
	}
	s.pendingBanners = s.pendingBanners[:0]
	s.report(o, m)
	if s.attempts >= s.d.lim.MaxAttempts {
		s.finish(m)
	}
}

// report emits the current attempt and clears it.
func (s *session) report(outcome string, m proto.Meta) {
	a := s.att
	s.att = attempt{}
	s.sendBanner(m)
	o := s.c.Observation(proto.ToServer, "login", m)
	o.Detail = &LoginDetail{
		User:              a.user,
		Outcome:           outcome,
		Attempt:           a.n,
		PasswordSent:      a.password,
		DefaultCredential: a.isDefault,
	}
	o.Facts = s.takeFacts(event.AboutDst)
	if a.password {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakCleartextCredentials, About: event.AboutDst,
			Detail: "user name and password typed in cleartext over Telnet",
		})
	}
	if a.isDefault && outcome != OutcomeFailure {
		d := "known default user name and password accepted over Telnet"
		if outcome == OutcomeUnknown {
			d = "known default user name and password tried over Telnet (outcome not seen)"
		}
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakDefaultCredentials, About: event.AboutDst, Detail: d,
		})
	}
	s.out.Observe(o)
}

// sendBanner emits the banner observation once: the server's greeting,
// the options negotiated so far, and the facts found in them.
func (s *session) sendBanner(m proto.Meta) {
	if s.bannerSent {
		return
	}
	s.bannerSent = true
	s.bannerDone = true
	o := s.c.Observation(proto.ToClient, "banner", m)
	d := &BannerDetail{
		Banner:       cleanBanner(s.banner),
		ServerWill:   optionList(&s.options[0]),
		ServerDo:     optionList(&s.options[1]),
		ClientWill:   optionList(&s.options[2]),
		ClientDo:     optionList(&s.options[3]),
		TerminalType: s.ttype,
		WindowCols:   s.cols,
		WindowRows:   s.rows,
		EnvUser:      s.envUser,
		TLS:          s.tls,
	}
	s.banner = nil
	o.Detail = d
	o.Facts = append(o.Facts,
		event.Fact{About: event.AboutSrc, Attr: event.AttrServer, Value: "telnet", Confidence: 1},
		event.Fact{About: event.AboutDst, Attr: event.AttrClient, Value: "telnet", Confidence: 1},
	)
	o.Facts = append(o.Facts, s.takeFacts(event.AboutSrc)...)
	if !s.tls {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakCleartextLogin, About: event.AboutSrc,
			Detail: "Telnet service offers cleartext login",
		})
	}
	if s.shell {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{
			Kind: event.WeakUnauthenticated, About: event.AboutSrc,
			Detail: "Telnet service offered a command prompt without a login",
		})
	}
	s.out.Observe(o)
}

// scanFacts looks for operating-system and host-name facts in a server
// line before the login and in the message of the day after it.
func (s *session) scanFacts(line []byte) {
	if s.scanned >= s.d.lim.BannerBytes+s.d.lim.PostLoginBytes || len(s.emitted) >= maxFacts {
		return
	}
	if s.att.stage == stageUser {
		return // the server is echoing the user name
	}
	s.scanned += len(line)
	// The greeting and the message of the day often name the device
	// ("PM-8000 Patient Monitor"): they become banner facts, from which
	// the inventory reads device kinds. Only text before the login and
	// between the login and the first shell prompt: command output could
	// carry anything, patient data included.
	// Lines between the password and the verdict wait for it: after a
	// success they are the message of the day; after a failure, nothing.
	// A banner line has at least two words, which also keeps out a
	// password echoed by a misbehaving server.
	if t := strings.TrimSpace(printable(trimSpace(line), 120)); len(t) >= 4 && strings.ContainsRune(t, ' ') &&
		!isFailure(line) && !isLastLogin(line) {
		switch s.att.stage {
		case stageNone, stagePost:
			s.addBanner(t)
		case stagePassword:
			if len(s.pendingBanners) < maxBannerFacts {
				s.pendingBanners = append(s.pendingBanners, t)
			}
		}
	}
	for _, p := range osPatterns {
		if !bytes.Contains(line, []byte(p.key)) {
			continue
		}
		if sub := p.re.FindSubmatchIndex(line); sub != nil {
			v := p.re.Expand(nil, []byte(p.tmpl), line, sub)
			s.addFact(p.attr, printable(v, 64), p.conf)
		}
	}
}

func (s *session) addBanner(text string) {
	if s.banners < maxBannerFacts {
		s.banners++
		s.addFact(event.AttrBanner, text, 0.9)
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

// takeFacts hands the pending facts to an observation, about the server.
func (s *session) takeFacts(about event.About) []event.Fact {
	if !s.bannerSent || len(s.facts) == 0 {
		return nil
	}
	out := make([]event.Fact, len(s.facts))
	for i, f := range s.facts {
		out[i] = event.Fact{About: about, Attr: f.attr, Value: f.value, Confidence: f.conf}
	}
	s.facts = s.facts[:0]
	return out
}

// screenHost adds the host name from login(1)'s "<host> login:" prompt.
func (s *session) screenHost(line []byte) {
	if sub := hostPrompt.FindSubmatch(trimSpace(line)); sub != nil {
		s.addFact(event.AttrHostname, string(sub[1]), 0.7)
	}
}

func optionList(set *[32]byte) []string {
	var out []string
	for i := 0; i < 256; i++ {
		if set[i>>3]&(1<<(i&7)) == 0 {
			continue
		}
		if i < len(optionNames) {
			out = append(out, optionNames[i])
		} else {
			out = append(out, strconv.Itoa(i))
		}
	}
	return out
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

// cleanBanner keeps the banner's lines, without control characters and
// without trailing blank space.
func cleanBanner(b []byte) string {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\n':
			for len(out) > 0 && out[len(out)-1] == ' ' {
				out = out[:len(out)-1]
			}
			if len(out) > 0 && out[len(out)-1] != '\n' {
				out = append(out, '\n')
			}
			continue
		case r == utf8.RuneError && size <= 1:
			r = '?'
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	for len(out) > 0 && (out[len(out)-1] == '\n' || out[len(out)-1] == ' ') {
		out = out[:len(out)-1]
	}
	return string(out)
}
