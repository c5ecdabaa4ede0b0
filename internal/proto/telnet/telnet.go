// Package telnet dissects Telnet (RFC 854) sessions: it decodes option
// negotiation, strips the IAC command layer, and follows the login dialogue
// to report each login attempt: the user name typed, whether the server
// accepted it, and whether the password was a known default. Passwords are
// checked with an injected DefaultChecker and forgotten at once; they are
// never stored or emitted.
//
// What the login tracking can and cannot know is a heuristic over text;
// docs/proto/telnet.md describes it and its limits. Everything a session
// holds is bounded: one server line, one typed line, a 256-byte banner, a
// subnegotiation buffer, and a fixed number of attempts and bytes after
// which the session stops reading.
//
// The package depends only on proto and event.
package telnet

import (
	"github.com/heir-emd/heir/internal/proto"
)

// DefaultChecker says whether a user name and password pair is a known
// default credential (credential.List satisfies it).
type DefaultChecker interface {
	IsDefault(user, password string) bool
}

// Limits bound how far a session reads.
type Limits struct {
	// MaxAttempts is how many login attempts a flow reports before the
	// session stops reading it.
	MaxAttempts int
	// MaxBytes is how many bytes of each direction a session reads; once
	// either direction passes it the session reports what it holds and
	// stops.
	MaxBytes int
	// BannerBytes is the most text kept of what the server sent before the
	// first login prompt.
	BannerBytes int
	// PostLoginBytes is how much server text after a successful login is
	// read for operating-system facts (the message of the day) before the
	// session stops.
	PostLoginBytes int
}

// DefaultLimits returns the limits New uses.
func DefaultLimits() Limits {
	return Limits{
		MaxAttempts:    16,
		MaxBytes:       64 << 10,
		BannerBytes:    256,
		PostLoginBytes: 4 << 10,
	}
}

// Dissector recognises Telnet.
type Dissector struct {
	check DefaultChecker
	lim   Limits
}

// New returns the Telnet dissector with DefaultLimits. check may be nil:
// then no login is reported as using default credentials.
func New(check DefaultChecker) *Dissector { return NewWithLimits(check, DefaultLimits()) }

// NewWithLimits returns the Telnet dissector with lim; zero fields take the
// defaults.
func NewWithLimits(check DefaultChecker, lim Limits) *Dissector {
	d := DefaultLimits()
	if lim.MaxAttempts > 0 {
		d.MaxAttempts = lim.MaxAttempts
	}
	if lim.MaxBytes > 0 {
		d.MaxBytes = lim.MaxBytes
	}
	if lim.BannerBytes > 0 {
		d.BannerBytes = lim.BannerBytes
	}
	if lim.PostLoginBytes > 0 {
		d.PostLoginBytes = lim.PostLoginBytes
	}
	return &Dissector{check: check, lim: d}
}

// Name implements proto.Dissector.
func (d *Dissector) Name() string { return "telnet" }

// Transport implements proto.Dissector.
func (d *Dissector) Transport() proto.Transport { return proto.TCP }

// Ports implements proto.Dissector: the IANA Telnet port and 2323, where
// many embedded devices (and the Mirai scanner) expect a second Telnet
// service. They only order the probes.
func (d *Dissector) Ports() []uint16 { return []uint16{23, 2323} }

// New implements proto.Dissector.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(d, c, out)
}
