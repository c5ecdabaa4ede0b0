// Package ssh dissects the clear-text start of SSH (RFC 4253): both
// identification strings, which name the software and often the operating
// system of each end, and both KEXINIT messages, whose algorithm lists
// give the HASSH fingerprints of client and server and show weak
// algorithms offered or negotiated. Everything after the key exchange is
// encrypted, so the session stops there. The package depends only on
// proto and event.
package ssh

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Name is the protocol name carried in observations.
const Name = "ssh"

// maxBanner is RFC 4253's limit on an identification line, CR LF
// included; maxPreLines bounds the other lines a server may send before
// it.
const (
	maxBanner   = 255
	maxPreLines = 16
	// maxPacket is the packet size every implementation must accept
	// (RFC 4253 section 6.1); a KEXINIT is far smaller.
	maxPacket = 35000
)

const msgKexInit = 20

// Dissector recognises SSH by its identification string.
type Dissector struct{}

// New returns the SSH dissector.
func New() *Dissector { return &Dissector{} }

func (d *Dissector) Name() string               { return Name }
func (d *Dissector) Transport() proto.Transport { return proto.TCP }
func (d *Dissector) Ports() []uint16            { return []uint16{22} }

var prefix = []byte("SSH-")

// Probe accepts a stream that starts with "SSH-" and a well-formed
// identification line. Both ends send one, so the line alone cannot tell
// client from server; when the KEXINIT that follows is already there, its
// client-only or server-only pseudo-algorithms (ext-info-c, kex-strict-s-…)
// can, and correct the engine's guess.
func (d *Dissector) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) < len(prefix) {
		if bytes.HasPrefix(prefix, data) {
			return proto.Unsure
		}
		return proto.No
	}
	if !bytes.HasPrefix(data, prefix) {
		return proto.No
	}
	line, n, ok := cutLine(data)
	if !ok {
		if len(data) > maxBanner {
			return proto.No
		}
		return proto.Unsure
	}
	if _, ok := parseBanner(line); !ok {
		return proto.No
	}
	if k, _, st := readKexInit(data[n:]); st == pktOK {
		switch {
		case k.role == roleClient && dir == proto.ToClient, k.role == roleServer && dir == proto.ToServer:
			return proto.YesReversed
		}
	}
	return proto.Yes
}

// cutLine returns the first line of data without its CR LF and the bytes
// it takes, if it ends within maxBanner bytes.
func cutLine(data []byte) (line []byte, n int, ok bool) {
	lim := min(len(data), maxBanner)
	i := bytes.IndexByte(data[:lim], '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = data[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + 1, true
}

// Banner is the detail of a "banner" observation: one end's
// identification string, SSH-protoversion-softwareversion SP comments.
type Banner struct {
	ProtoVersion string `json:"proto_version"`
	Software     string `json:"software"`
	Comments     string `json:"comments,omitempty"`
}

// parseBanner splits an identification line. Control bytes are replaced so
// that a hostile banner cannot forge log lines.
func parseBanner(line []byte) (Banner, bool) {
	rest, ok := bytes.CutPrefix(line, prefix)
	if !ok {
		return Banner{}, false
	}
	ver, rest, ok := bytes.Cut(rest, []byte("-"))
	if !ok || len(ver) == 0 || len(ver) > 8 {
		return Banner{}, false
	}
	for _, c := range ver {
		if (c < '0' || c > '9') && c != '.' {
			return Banner{}, false
		}
	}
	sw, comments, _ := bytes.Cut(rest, []byte(" "))
	if len(sw) == 0 {
		return Banner{}, false
	}
	return Banner{ProtoVersion: string(ver), Software: printable(sw), Comments: printable(comments)}, true
}

func printable(b []byte) string {
	out := []byte(nil)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			if out == nil {
				out = append([]byte(nil), b...)
			}
			out[i] = '?'
		}
	}
	if out != nil {
		return string(out)
	}
	return string(b)
}

type role uint8

const (
	roleUnknown role = iota
	roleClient
	roleServer
)

// kexInit holds one end's algorithm name-lists, in RFC 4253 order.
type kexInit struct {
	lists [10]string
	role  role
}

const (
	listKex = iota
	listHostKey
	listCipherC2S
	listCipherS2C
	listMACC2S
	listMACS2C
	listCompC2S
	listCompS2C
	listLangC2S
	listLangS2C
)

type pktStatus uint8

const (
	pktOK     pktStatus = iota
	pktShort            // wait for more bytes
	pktBad              // not a binary packet: give up on this side
	pktNotKex           // a packet, but not KEXINIT
)

// readKexInit reads one binary packet from data and decodes it as
// KEXINIT. It returns the bytes the packet takes.
func readKexInit(data []byte) (*kexInit, int, pktStatus) {
	if len(data) < 6 {
		return nil, 0, pktShort
	}
	plen := int(binary.BigEndian.Uint32(data))
	pad := int(data[4])
	if plen < 2 || plen > maxPacket || pad >= plen {
		return nil, 0, pktBad
	}
	if len(data) < 4+plen {
		return nil, 0, pktShort
	}
	payload := data[5 : 4+plen-pad]
	if len(payload) == 0 || payload[0] != msgKexInit {
		return nil, 4 + plen, pktNotKex
	}
	k, ok := parseKexInit(payload[1:])
	if !ok {
		return nil, 4 + plen, pktBad
	}
	return k, 4 + plen, pktOK
}

// parseKexInit decodes the body of KEXINIT after the message code: a
// 16-byte cookie, then ten name-lists.
func parseKexInit(b []byte) (*kexInit, bool) {
	if len(b) < 16 {
		return nil, false
	}
	b = b[16:]
	k := &kexInit{}
	for i := range k.lists {
		if len(b) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, false
		}
		k.lists[i] = printable(b[4 : 4+n])
		b = b[4+n:]
	}
	for _, a := range strings.Split(k.lists[listKex], ",") {
		switch a {
		case "ext-info-c", "kex-strict-c-v00@openssh.com":
			k.role = roleClient
		case "ext-info-s", "kex-strict-s-v00@openssh.com":
			k.role = roleServer
		}
	}
	return k, true
}

// hassh is the HASSH fingerprint (Salesforce's published method): the
// MD5 of kex;ciphers;macs;compression, taking the client-to-server lists
// for a client and the server-to-client lists for a server.
func (k *kexInit) hassh(server bool) string {
	c, m, z := listCipherC2S, listMACC2S, listCompC2S
	if server {
		c, m, z = listCipherS2C, listMACS2C, listCompS2C
	}
	sum := md5.Sum([]byte(k.lists[listKex] + ";" + k.lists[c] + ";" + k.lists[m] + ";" + k.lists[z]))
	return hex.EncodeToString(sum[:])
}

// New starts a session.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &session{conn: c, out: out}
}

const (
	stBanner = iota
	stKex
	stDone
)

type side struct {
	state    uint8
	preLines int
	v1       bool
	kex      *kexInit
}

type session struct {
	conn  *proto.Conn
	out   proto.Sink
	sides [2]side
}

func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	sd := &s.sides[dir]
	off := 0
	for sd.state != stDone && off <= len(data) {
		rest := data[off:]
		switch sd.state {
		case stBanner:
			line, n, ok := cutLine(rest)
			if !ok {
				if len(rest) >= maxBanner {
					sd.state = stDone
					continue
				}
				return off, false
			}
			off += n
			b, ok := parseBanner(line)
			if !ok {
				// RFC 4253 4.2: a server may send other lines first.
				if sd.preLines++; sd.preLines > maxPreLines {
					sd.state = stDone
				}
				continue
			}
			s.banner(dir, b, m)
			sd.state = stKex
			if sd.v1 = !strings.HasPrefix(b.ProtoVersion, "2.") && b.ProtoVersion != "1.99"; sd.v1 {
				// SSH-1 packets have another format and no KEXINIT.
				sd.state = stDone
			}
		case stKex:
			k, n, st := readKexInit(rest)
			switch st {
			case pktShort:
				return off, false
			case pktOK:
				sd.kex = k
				s.kexInit(dir, m)
			}
			off += n
			sd.state = stDone
		}
	}
	if sd.state == stDone {
		off = len(data)
	}
	return off, s.sides[0].state == stDone && s.sides[1].state == stDone
}

func (s *session) Gap(dir proto.Dir, n int) {
	// Packet boundaries are lost: nothing more can be read this way.
	s.sides[dir].state = stDone
}

func (s *session) End(proto.Meta) {}

func (s *session) banner(dir proto.Dir, b Banner, m proto.Meta) {
	o := s.conn.Observation(dir, "banner", m)
	o.Detail = &b
	roleAttr := event.AttrClient
	if dir == proto.ToClient {
		roleAttr = event.AttrServer
	}
	o.Facts = []event.Fact{
		{About: event.AboutSrc, Attr: roleAttr, Value: Name, Confidence: 0.9},
		{About: event.AboutSrc, Attr: event.AttrSoftware, Value: b.Software, Confidence: 0.9},
	}
	if os := osOf(b); os != "" {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: event.AttrOS, Value: os, Confidence: 0.6})
	}
	switch {
	case b.ProtoVersion == "1.99":
		o.Weaknesses = []event.Weakness{{Kind: event.WeakCipher, About: event.AboutSrc, Detail: "obsolete SSH protocol 1 still offered (SSH-1.99)"}}
	case strings.HasPrefix(b.ProtoVersion, "1."):
		o.Weaknesses = []event.Weakness{{Kind: event.WeakCipher, About: event.AboutSrc, Detail: "obsolete SSH protocol " + b.ProtoVersion}}
	}
	s.out.Observe(o)
}

// osOf reads the operating system from the places OpenSSH builds and
// network systems put it: the comment distributions append
// ("Ubuntu-4ubuntu0.11", "Debian-5+deb11u1") and a few software names.
func osOf(b Banner) string {
	c := b.Comments
	for _, os := range [...]string{"Ubuntu", "Debian", "Raspbian", "FreeBSD", "NetBSD"} {
		if strings.HasPrefix(c, os) {
			return os
		}
	}
	switch sw := b.Software; {
	case strings.HasPrefix(sw, "OpenSSH_for_Windows"):
		return "Windows"
	case strings.HasPrefix(sw, "NetBSD_Secure_Shell"):
		return "NetBSD"
	case strings.HasPrefix(sw, "Cisco-"):
		return "Cisco IOS"
	case sw == "ROSSSH":
		return "RouterOS"
	}
	return ""
}

// KexInit is the detail of a "kexinit" observation: one end's algorithm
// lists (comma-separated, as sent), its HASSH fingerprint, and, on the
// second KEXINIT of a connection, the algorithms the two lists select.
type KexInit struct {
	// HASSH is set for the client, HASSHServer for the server.
	HASSH       string `json:"hassh,omitempty"`
	HASSHServer string `json:"hassh_server,omitempty"`

	Kex            string `json:"kex_algorithms"`
	HostKey        string `json:"host_key_algorithms"`
	CiphersC2S     string `json:"ciphers_c2s"`
	CiphersS2C     string `json:"ciphers_s2c"`
	MACsC2S        string `json:"macs_c2s"`
	MACsS2C        string `json:"macs_s2c"`
	CompressionC2S string `json:"compression_c2s"`
	CompressionS2C string `json:"compression_s2c"`
	// WeakOffered lists the weak algorithms in this end's lists.
	WeakOffered []string `json:"weak_offered,omitempty"`
	// Negotiated is what both lists select (RFC 4253 7.1: the client's
	// first algorithm the server supports), once both are seen.
	Negotiated *Negotiated `json:"negotiated,omitempty"`
}

// Negotiated names the algorithms a connection uses.
type Negotiated struct {
	Kex            string `json:"kex,omitempty"`
	HostKey        string `json:"host_key,omitempty"`
	CipherC2S      string `json:"cipher_c2s,omitempty"`
	CipherS2C      string `json:"cipher_s2c,omitempty"`
	MACC2S         string `json:"mac_c2s,omitempty"`
	MACS2C         string `json:"mac_s2c,omitempty"`
	CompressionC2S string `json:"compression_c2s,omitempty"`
	CompressionS2C string `json:"compression_s2c,omitempty"`
	// Weak lists the negotiated algorithms that are weak.
	Weak []string `json:"weak,omitempty"`
}

// maxWeakNames bounds the names listed in a weakness's text.
const maxWeakNames = 8

func (s *session) kexInit(dir proto.Dir, m proto.Meta) {
	k := s.sides[dir].kex
	server := dir == proto.ToClient
	d := &KexInit{
		Kex: k.lists[listKex], HostKey: k.lists[listHostKey],
		CiphersC2S: k.lists[listCipherC2S], CiphersS2C: k.lists[listCipherS2C],
		MACsC2S: k.lists[listMACC2S], MACsS2C: k.lists[listMACS2C],
		CompressionC2S: k.lists[listCompC2S], CompressionS2C: k.lists[listCompS2C],
	}
	fp := k.hassh(server)
	if server {
		d.HASSHServer = fp
	} else {
		d.HASSH = fp
	}
	o := s.conn.Observation(dir, "kexinit", m)
	o.Detail = d
	for _, l := range []int{listKex, listHostKey, listCipherC2S, listCipherS2C, listMACC2S, listMACS2C} {
		for _, a := range strings.Split(k.lists[l], ",") {
			if weak(a) && !contains(d.WeakOffered, a) && len(d.WeakOffered) < 32 {
				d.WeakOffered = append(d.WeakOffered, a)
			}
		}
	}
	if len(d.WeakOffered) > 0 {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCipher, About: event.AboutSrc,
			Detail: "weak SSH algorithms offered: " + joinBounded(d.WeakOffered)})
	}
	if peer := s.sides[dir.Reverse()].kex; peer != nil {
		cli, srv := peer, k
		if !server {
			cli, srv = k, peer
		}
		n := negotiate(cli, srv)
		d.Negotiated = n
		if len(n.Weak) > 0 {
			text := "weak SSH algorithms negotiated: " + joinBounded(n.Weak)
			o.Weaknesses = append(o.Weaknesses,
				event.Weakness{Kind: event.WeakCipher, About: event.AboutSrc, Detail: text},
				event.Weakness{Kind: event.WeakCipher, About: event.AboutDst, Detail: text})
		}
	}
	s.out.Observe(o)
}

func negotiate(c, s *kexInit) *Negotiated {
	n := &Negotiated{
		Kex:            pick(c.lists[listKex], s.lists[listKex]),
		HostKey:        pick(c.lists[listHostKey], s.lists[listHostKey]),
		CipherC2S:      pick(c.lists[listCipherC2S], s.lists[listCipherC2S]),
		CipherS2C:      pick(c.lists[listCipherS2C], s.lists[listCipherS2C]),
		CompressionC2S: pick(c.lists[listCompC2S], s.lists[listCompC2S]),
		CompressionS2C: pick(c.lists[listCompS2C], s.lists[listCompS2C]),
	}
	// AEAD ciphers carry their own integrity: no MAC is negotiated.
	if !aead(n.CipherC2S) {
		n.MACC2S = pick(c.lists[listMACC2S], s.lists[listMACC2S])
	}
	if !aead(n.CipherS2C) {
		n.MACS2C = pick(c.lists[listMACS2C], s.lists[listMACS2C])
	}
	for _, a := range []string{n.Kex, n.HostKey, n.CipherC2S, n.CipherS2C, n.MACC2S, n.MACS2C} {
		if a != "" && weak(a) && !contains(n.Weak, a) {
			n.Weak = append(n.Weak, a)
		}
	}
	return n
}

func aead(c string) bool {
	return strings.HasPrefix(c, "chacha20-poly1305") || strings.HasSuffix(c, "-gcm@openssh.com")
}

// pick returns the client's first algorithm the server also lists.
func pick(client, server string) string {
	for _, a := range strings.Split(client, ",") {
		if a == "" {
			continue
		}
		for _, b := range strings.Split(server, ",") {
			if a == b {
				return a
			}
		}
	}
	return ""
}

// weak says whether an algorithm is one RFC 9142 (key exchange), RFC 8758
// (RC4), RFC 8332/OpenSSH (DSA) or common hardening guides retire: SHA-1
// and 1024-bit key exchanges, DSA host keys, RC4, single and triple DES,
// Blowfish, CAST, no encryption, MD5 and truncated MACs.
func weak(a string) bool {
	switch a {
	case "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1", "rsa1024-sha1",
		"3des-cbc", "des-cbc", "des", "blowfish-cbc", "cast128-cbc", "idea-cbc", "none",
		"hmac-md5", "hmac-md5-96", "hmac-sha1-96", "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com",
		"hmac-sha1-96-etm@openssh.com":
		return true
	}
	return strings.HasPrefix(a, "arcfour") || strings.HasPrefix(a, "ssh-dss") ||
		strings.HasPrefix(a, "gss-group1-sha1-") || strings.HasPrefix(a, "x509v3-sign-dss")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func joinBounded(l []string) string {
	if len(l) > maxWeakNames {
		return strings.Join(l[:maxWeakNames], ", ") + " …"
	}
	return strings.Join(l, ", ")
}
