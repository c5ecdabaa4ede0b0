// Package ftp dissects the FTP control connection (RFC 959, with the
// security extensions of RFC 2228/4217 and the extended data-port commands
// of RFC 2428). It reports the server's greeting and software, each login
// attempt (user name and outcome; the password is checked against an
// injected DefaultChecker and forgotten at once), the data endpoints the
// peers announce, and at the end a summary of the commands used.
//
// Command arguments other than the user name and data endpoints are never
// kept: file names can carry patient data. Only command verbs are counted.
//
// A session holds one partial line per direction (bounded by
// Limits.MaxLine), a 256-byte banner, a few pending command verbs and a
// bounded list of endpoints; it depends only on proto and event.
package ftp

import (
	"bytes"

	"github.com/heir-emd/heir/internal/proto"
)

// DefaultChecker says whether a user name and password pair is a known
// default credential (credential.List satisfies it).
type DefaultChecker interface {
	IsDefault(user, password string) bool
}

// Limits bound what a session holds and how far it reads.
type Limits struct {
	// MaxLine is the longest command or reply line parsed; the rest of a
	// longer line is skipped.
	MaxLine int
	// MaxLogins is how many login observations a flow emits; further
	// attempts are only counted in the summary.
	MaxLogins int
	// MaxEndpoints is how many data endpoints the summary lists; further
	// ones are only counted.
	MaxEndpoints int
	// MaxBytes is how many bytes of each direction are read; past it the
	// session reports its summary and stops.
	MaxBytes int
	// BannerBytes is the most greeting text kept.
	BannerBytes int
}

// DefaultLimits returns the limits New uses.
func DefaultLimits() Limits {
	return Limits{
		MaxLine:      2048,
		MaxLogins:    100,
		MaxEndpoints: 16,
		MaxBytes:     1 << 20,
		BannerBytes:  256,
	}
}

// Dissector recognises FTP control connections.
type Dissector struct {
	check DefaultChecker
	lim   Limits
}

// DataName is the protocol name of the data connections an FTP session
// announces (PASV, EPSV, PORT, EPRT).
const DataName = "ftp-data"

// New returns the FTP dissector with DefaultLimits. check may be nil: then
// no login is reported as using default credentials.
func New(check DefaultChecker) *Dissector { return NewWithLimits(check, DefaultLimits()) }

// NewWithLimits returns the FTP dissector with lim; zero fields take the
// defaults.
func NewWithLimits(check DefaultChecker, lim Limits) *Dissector {
	d := DefaultLimits()
	if lim.MaxLine >= 64 {
		d.MaxLine = lim.MaxLine
	}
	if lim.MaxLogins > 0 {
		d.MaxLogins = lim.MaxLogins
	}
	if lim.MaxEndpoints > 0 {
		d.MaxEndpoints = lim.MaxEndpoints
	}
	if lim.MaxBytes > 0 {
		d.MaxBytes = lim.MaxBytes
	}
	if lim.BannerBytes > 0 {
		d.BannerBytes = lim.BannerBytes
	}
	return &Dissector{check: check, lim: d}
}

// Name implements proto.Dissector.
func (d *Dissector) Name() string { return "ftp" }

// Transport implements proto.Dissector.
func (d *Dissector) Transport() proto.Transport { return proto.TCP }

// Ports implements proto.Dissector: the IANA control port and 2121, a
// common unprivileged alternative. They only order the probes.
func (d *Dissector) Ports() []uint16 { return []uint16{21, 2121} }

// New implements proto.Dissector.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(d, c, out)
}

// Probe implements proto.Dissector. A server stream is FTP when it starts
// with a 220 greeting that says FTP (one that says SMTP or mail is not);
// a 220 greeting saying neither leaves the answer to the client's first
// command. A client stream is FTP when it starts with USER and one name,
// AUTH TLS or SSL, or one of a few FTP-only commands (PASV, EPSV, FEAT,
// SYST, TYPE, PORT), as when a capture starts mid-session. Server replies
// that only FTP sends (331 asking for a password, 227/229 entering passive
// mode) are accepted too. A greeting on the client side or a command on
// the server side means the engine's guess was wrong: YesReversed.
func (d *Dissector) Probe(_ *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) == 0 {
		return proto.Unsure
	}
	var v proto.Verdict
	server := false
	if isDigit(data[0]) {
		v, server = probeReply(data), true
	} else {
		v = probeCommand(data)
	}
	if v != proto.Yes {
		return v
	}
	if server == (dir == proto.ToServer) {
		return proto.YesReversed
	}
	return proto.Yes
}

func probeReply(data []byte) proto.Verdict {
	line, complete := firstLine(data)
	if len(line) < 4 {
		if complete || !allDigits(line) {
			return proto.No
		}
		return proto.Unsure
	}
	if !allDigits(line[:3]) || (line[3] != ' ' && line[3] != '-') {
		return proto.No
	}
	code := string(line[:3])
	text := line[4:]
	switch code {
	case "220":
		// The whole greeting, all lines of a multi-line one, may name the
		// protocol.
		greeting := data[4:min(len(data), 1024)]
		switch {
		case hasFold(greeting, "smtp"):
			return proto.No
		case hasFold(greeting, "ftp"):
			return proto.Yes
		case hasFold(greeting, "mail"), hasFold(greeting, "nntp"), hasFold(greeting, "news"):
			return proto.No
		}
		// A greeting naming no protocol: the client's first command
		// decides (USER for FTP, EHLO for SMTP).
		return proto.Unsure
	case "331":
		if hasFold(text, "password") {
			return proto.Yes
		}
	case "227":
		if hasFold(text, "passive") {
			return proto.Yes
		}
	case "229":
		if hasFold(text, "extended passive") {
			return proto.Yes
		}
	}
	return proto.No
}

// probeOpenings are the client lines accepted as FTP; each must be
// followed by CRLF (or LF) to count.
var probeOpenings = []string{"USER ", "AUTH TLS", "AUTH SSL", "PASV", "EPSV", "FEAT", "SYST", "TYPE ", "PORT "}

func probeCommand(data []byte) proto.Verdict {
	line, complete := firstLine(data)
	for _, p := range probeOpenings {
		n := min(len(p), len(line))
		if !bytes.EqualFold(line[:n], []byte(p[:n])) {
			continue
		}
		if n < len(p) {
			if complete {
				continue
			}
			return proto.Unsure
		}
		if !complete {
			if len(line) > 256 {
				return proto.No
			}
			return proto.Unsure
		}
		if validCommand(p, line) {
			return proto.Yes
		}
	}
	return proto.No
}

// validCommand checks the argument of a probe opening: one user name
// without spaces (IRC's USER has four fields), a known AUTH mechanism, no
// argument for the bare verbs, a type code, six numbers for PORT.
func validCommand(p string, line []byte) bool {
	arg := bytes.TrimRight(line[len(p):], " ")
	switch p {
	case "USER ":
		return len(arg) > 0 && bytes.IndexByte(arg, ' ') < 0 && printableASCII(arg)
	case "AUTH TLS", "AUTH SSL":
		return len(arg) == 0 || bytes.EqualFold(arg, []byte("-C")) || bytes.EqualFold(arg, []byte("-P"))
	case "PASV", "FEAT", "SYST":
		return len(arg) == 0
	case "EPSV":
		return len(arg) == 0 || bytes.EqualFold(arg, []byte(" ALL")) || bytes.Equal(arg, []byte(" 1")) || bytes.Equal(arg, []byte(" 2"))
	case "TYPE ":
		return len(arg) >= 1 && bytes.IndexByte([]byte("AaIiEeLl"), arg[0]) >= 0 && len(arg) <= 3
	case "PORT ":
		_, ok := parseHostPort(arg)
		return ok
	}
	return false
}

// firstLine returns data's first line without its end, and whether it was
// complete.
func firstLine(data []byte) ([]byte, bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return data, false
	}
	return bytes.TrimRight(data[:i], "\r"), true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasFold says whether s contains the lower-case ASCII word w, ignoring
// case, without allocating.
func hasFold(s []byte, w string) bool {
	n := len(w)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n && lower(s[i+j]) == w[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}
