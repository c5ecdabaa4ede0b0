package dns

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gopacket/gopacket/layers"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Bounds on what a session holds and emits. When the pending table is
// full the oldest query is reported unanswered and dropped; when the
// multicast dedup set is full it is cleared (at worst an announcement is
// reported twice).
const (
	maxPending = 32
	maxRecent  = 8
	maxSeen    = 256
	maxAnswers = 16
	maxHints   = 8
)

type txKey struct {
	id uint16
	q  uint64
}

type pending struct {
	key         txKey
	dir         proto.Dir
	meta        proto.Meta
	det         *Detail
	retransmits int
}

type session struct {
	dec   *decoders
	conn  *proto.Conn
	out   proto.Sink
	v     variant
	proto string // fact value: "dns", "mdns" or "llmnr"

	pending []pending
	recent  [maxRecent]txKey
	nRecent int
	seen    map[uint64]struct{}

	toldClient, toldServer bool
	toldNames              map[string]struct{}
	stats                  Summary
}

func newSession(dec *decoders, c *proto.Conn, out proto.Sink) *session {
	v := variantOf(c)
	p := Name
	if v != unicast {
		p = v.String()
	}
	return &session{dec: dec, conn: c, out: out, v: v, proto: p}
}

// message handles one whole DNS message.
func (s *session) message(dir proto.Dir, data []byte, m proto.Meta) {
	if len(data) < headerLen {
		s.stats.Malformed++
		return
	}
	s.dec.decode(data, func(msg *layers.DNS, err error) {
		if err != nil {
			s.stats.Malformed++
		}
		switch {
		case msg.QR && s.v == unicast:
			s.response(dir, msg, err, m)
		case msg.QR:
			s.announcement(dir, msg, err, m)
		case s.v == unicast:
			s.query(dir, msg, err, m)
		default:
			s.multicastQuery(dir, msg, err, m)
		}
	})
}

func (s *session) query(dir proto.Dir, msg *layers.DNS, err error, m proto.Meta) {
	s.stats.Queries++
	if len(msg.Questions) == 0 {
		return
	}
	k := keyOf(msg)
	for i := range s.pending {
		if s.pending[i].key == k {
			s.pending[i].retransmits++
			s.stats.Retransmits++
			return
		}
	}
	if len(s.pending) == maxPending {
		s.unanswered(&s.pending[0])
		copy(s.pending, s.pending[1:])
		s.pending = s.pending[:maxPending-1]
	}
	det := s.header(msg, err)
	s.pending = append(s.pending, pending{key: k, dir: dir, meta: m, det: det})
}

func (s *session) response(dir proto.Dir, msg *layers.DNS, err error, m proto.Meta) {
	s.stats.Responses++
	if rc := msg.ResponseCode; rc != 0 {
		if s.stats.Rcodes == nil {
			s.stats.Rcodes = map[string]int{}
		}
		if len(s.stats.Rcodes) < 16 {
			s.stats.Rcodes[rcodeName(rc)]++
		}
	}
	k := keyOf(msg)
	idx := -1
	for i := range s.pending {
		if s.pending[i].key == k {
			idx = i
			break
		}
	}
	if idx < 0 {
		for i := 0; i < s.nRecent && i < maxRecent; i++ {
			if s.recent[i] == k {
				s.stats.Duplicates++
				return
			}
		}
	}
	det := s.header(msg, err)
	s.answers(det, msg, netip.Addr{})
	if idx >= 0 {
		p := &s.pending[idx]
		det.QueryFrame = p.meta.Frame
		det.Retransmits = p.retransmits
		if d := m.Time.Sub(p.meta.Time); d >= 0 {
			det.LatencyMS = float64(d.Microseconds()) / 1000
		}
		s.pending = append(s.pending[:idx], s.pending[idx+1:]...)
	} else {
		det.QueryUnseen = true
	}
	s.recent[s.nRecent%maxRecent] = k
	s.nRecent++
	o := s.conn.Observation(dir, "response", m)
	o.Detail = det
	if !s.toldServer {
		s.toldServer = true
		o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: event.AttrServer, Value: s.proto, Confidence: 0.9})
	}
	o.Facts = s.clientFacts(o.Facts, event.AboutDst, det)
	s.out.Observe(o)
}

// unanswered reports a query no response was seen for.
func (s *session) unanswered(p *pending) {
	s.stats.Unanswered++
	o := s.conn.Observation(p.dir, "query", p.meta)
	p.det.Retransmits = p.retransmits
	o.Detail = p.det
	o.Facts = s.clientFacts(nil, event.AboutSrc, p.det)
	s.out.Observe(o)
}

// clientFacts appends the facts about the asking device: that it is a
// client, and the Windows domain it belongs to when it looks up its domain
// controllers (_ldap._tcp.dc._msdcs.DOMAIN), which members do at every
// start.
func (s *session) clientFacts(fs []event.Fact, about event.About, det *Detail) []event.Fact {
	if !s.toldClient {
		s.toldClient = true
		fs = append(fs, event.Fact{About: about, Attr: event.AttrClient, Value: s.proto, Confidence: 0.9})
	}
	if _, dom, ok := strings.Cut(det.Name, "._msdcs."); ok && dom != "" && s.tellOnce("domain:"+dom) {
		fs = append(fs, event.Fact{About: about, Attr: event.AttrDomain, Value: strings.ToLower(dom), Confidence: 0.6})
	}
	return fs
}

func (s *session) tellOnce(k string) bool {
	if s.toldNames == nil {
		s.toldNames = map[string]struct{}{}
	}
	if _, ok := s.toldNames[k]; ok || len(s.toldNames) >= maxSeen {
		return false
	}
	s.toldNames[k] = struct{}{}
	return true
}

// multicastQuery reports each distinct question set once per flow: mDNS
// and LLMNR answers go to other flows, so pairing is impossible, and
// repeating the same query every second is the norm.
func (s *session) multicastQuery(dir proto.Dir, msg *layers.DNS, err error, m proto.Meta) {
	s.stats.Queries++
	if len(msg.Questions) == 0 || !s.firstSight(questionsHash(msg)) {
		return
	}
	o := s.conn.Observation(dir, "query", m)
	o.Detail = s.header(msg, err)
	if !s.toldClient {
		s.toldClient = true
		o.Facts = []event.Fact{{About: event.AboutSrc, Attr: event.AttrClient, Value: s.proto, Confidence: 0.8}}
	}
	s.out.Observe(o)
}

// announcement handles an mDNS or LLMNR response: the records a device
// publishes about itself name it.
func (s *session) announcement(dir proto.Dir, msg *layers.DNS, err error, m proto.Meta) {
	s.stats.Responses++
	if !s.firstSight(recordsHash(msg)) {
		return
	}
	src, _ := s.conn.Ends(dir)
	det := s.header(msg, err)
	var fs []event.Fact
	if !s.toldServer {
		s.toldServer = true
		fs = append(fs, event.Fact{About: event.AboutSrc, Attr: event.AttrServer, Value: s.proto, Confidence: 0.8})
	}
	for _, name := range s.answers(det, msg, src.IP) {
		if s.tellOnce("host:" + name) {
			fs = append(fs, event.Fact{About: event.AboutSrc, Attr: event.AttrHostname, Value: name, Confidence: 0.8})
		}
	}
	o := s.conn.Observation(dir, "response", m)
	o.Detail = det
	o.Facts = fs
	s.out.Observe(o)
}

func (s *session) firstSight(h uint64) bool {
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	if _, ok := s.seen[h]; ok {
		return false
	}
	if len(s.seen) >= maxSeen {
		clear(s.seen)
	}
	s.seen[h] = struct{}{}
	return true
}

func (s *session) end(m proto.Meta) {
	for i := range s.pending {
		s.unanswered(&s.pending[i])
	}
	s.pending = nil
	st := &s.stats
	if st.Queries+st.Responses > 2 || st.Malformed > 0 {
		st.Variant = s.v.String()
		o := s.conn.Observation(proto.ToServer, "summary", m)
		sum := *st
		o.Detail = &sum
		s.out.Observe(o)
	}
}

// Detail is the detail of "query" and "response" observations.
type Detail struct {
	// Variant is "mdns" or "llmnr"; empty for unicast DNS.
	Variant string `json:"variant,omitempty"`
	ID      uint16 `json:"id"`
	// Opcode is set when the message is not a standard query
	// ("notify", "update", "status", "iquery").
	Opcode string `json:"opcode,omitempty"`
	// Name, Type and Class are the first question's; Class is omitted
	// for IN. Questions counts them when there is more than one.
	Name      string `json:"name,omitempty"`
	Type      string `json:"type,omitempty"`
	Class     string `json:"class,omitempty"`
	Questions int    `json:"questions,omitempty"`
	// Rcode is the response code ("NOERROR", "NXDOMAIN" …).
	Rcode         string `json:"rcode,omitempty"`
	Authoritative bool   `json:"authoritative,omitempty"`
	Truncated     bool   `json:"truncated,omitempty"`
	// AnswerCount is the answer count the header states; Answers holds
	// up to 16 of them (and, for mDNS and LLMNR, of the additional
	// records, which carry the addresses there).
	AnswerCount int      `json:"answer_count,omitempty"`
	Answers     []Answer `json:"answers,omitempty"`
	// LatencyMS is the time from the query to this response; QueryFrame
	// the query's frame; Retransmits how often the query was repeated.
	LatencyMS   float64 `json:"latency_ms,omitempty"`
	QueryFrame  uint64  `json:"query_frame,omitempty"`
	Retransmits int     `json:"retransmits,omitempty"`
	// QueryUnseen says the response matched no query seen in this flow.
	QueryUnseen bool `json:"query_unseen,omitempty"`
	// Hints are host names the message gives for private addresses other
	// than the sender's (PTR answers, A/AAAA records): a name for a
	// device that is neither end of this flow, so not a fact.
	Hints []Hint `json:"hints,omitempty"`
	// Malformed is the decoder's complaint when the message did not
	// decode to its end; what decoded before is kept.
	Malformed string `json:"malformed,omitempty"`
}

// Answer is one resource record.
type Answer struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl"`
	// Data is the address (A, AAAA), target name (CNAME, PTR, NS, SOA
	// primary), "preference name" (MX) or "priority weight port target"
	// (SRV); other types leave it empty.
	Data string `json:"data,omitempty"`
	// Strings counts a TXT record's strings; their content is not kept.
	Strings int `json:"strings,omitempty"`
}

// Hint names a private address seen in a message.
type Hint struct {
	IP   string `json:"ip"`
	Name string `json:"name"`
}

// Summary is the detail of a flow's "summary" observation, emitted at its
// end when it carried more than one exchange or a malformed message.
type Summary struct {
	Variant     string `json:"variant,omitempty"`
	Queries     int    `json:"queries"`
	Responses   int    `json:"responses"`
	Unanswered  int    `json:"unanswered,omitempty"`
	Retransmits int    `json:"retransmits,omitempty"`
	// Duplicates counts responses repeated for an exchange already
	// reported.
	Duplicates int `json:"duplicates,omitempty"`
	Malformed  int `json:"malformed,omitempty"`
	// Rcodes counts responses by error code (NOERROR is not counted).
	Rcodes map[string]int `json:"rcodes,omitempty"`
}

func (s *session) header(msg *layers.DNS, err error) *Detail {
	d := &Detail{
		Variant:       s.v.String(),
		ID:            msg.ID,
		Authoritative: msg.AA,
		Truncated:     msg.TC,
	}
	switch msg.OpCode {
	case 0:
	case 1:
		d.Opcode = "iquery"
	case 2:
		d.Opcode = "status"
	case 4:
		d.Opcode = "notify"
	case 5:
		d.Opcode = "update"
	default:
		d.Opcode = "opcode-" + strconv.Itoa(int(msg.OpCode))
	}
	if msg.QR {
		d.Rcode = rcodeName(msg.ResponseCode)
		d.AnswerCount = int(msg.ANCount)
	}
	if len(msg.Questions) > 0 {
		q := &msg.Questions[0]
		d.Name = clean(q.Name)
		d.Type = typeName(q.Type)
		if c := uint16(q.Class) & 0x7fff; c != 1 {
			d.Class = className(c)
		}
	}
	if msg.QDCount > 1 {
		d.Questions = int(msg.QDCount)
	}
	if err != nil {
		d.Malformed = err.Error()
		if len(d.Malformed) > 80 {
			d.Malformed = d.Malformed[:80]
		}
	}
	return d
}

// answers fills d's answers and hints from msg and returns the names the
// records give to self, the sender's own address (mDNS and LLMNR only).
func (s *session) answers(d *Detail, msg *layers.DNS, self netip.Addr) []string {
	var own []string
	add := func(rr *layers.DNSResourceRecord) {
		a := Answer{Name: clean(rr.Name), Type: typeName(rr.Type), TTL: rr.TTL}
		var ip netip.Addr
		name := a.Name
		switch rr.Type {
		case layers.DNSTypeA, layers.DNSTypeAAAA:
			ip, _ = netip.AddrFromSlice(rr.IP)
			ip = ip.Unmap()
			if ip.IsValid() {
				a.Data = ip.String()
			}
		case layers.DNSTypeCNAME:
			a.Data = clean(rr.CNAME)
		case layers.DNSTypeNS:
			a.Data = clean(rr.NS)
		case layers.DNSTypePTR:
			a.Data = clean(rr.PTR)
			ip, _ = reverseAddr(a.Name)
			name = a.Data
		case layers.DNSTypeSOA:
			a.Data = clean(rr.SOA.MName)
		case layers.DNSTypeMX:
			a.Data = strconv.Itoa(int(rr.MX.Preference)) + " " + clean(rr.MX.Name)
		case layers.DNSTypeSRV:
			a.Data = strconv.Itoa(int(rr.SRV.Priority)) + " " + strconv.Itoa(int(rr.SRV.Weight)) + " " +
				strconv.Itoa(int(rr.SRV.Port)) + " " + clean(rr.SRV.Name)
		case layers.DNSTypeTXT:
			a.Strings = len(rr.TXTs)
		}
		if len(d.Answers) < maxAnswers {
			d.Answers = append(d.Answers, a)
		}
		if !ip.IsValid() || name == "" {
			return
		}
		if self.IsValid() && ip == self {
			if s.v == mdns {
				name = strings.TrimSuffix(strings.TrimSuffix(name, "."), ".local")
			}
			if name != "" && len(own) < maxHints {
				own = append(own, name)
			}
			return
		}
		if (ip.IsPrivate() || ip.IsLinkLocalUnicast()) && len(d.Hints) < maxHints {
			d.Hints = append(d.Hints, Hint{IP: ip.String(), Name: name})
		}
	}
	for i := range msg.Answers {
		add(&msg.Answers[i])
	}
	if s.v != unicast {
		for i := range msg.Additionals {
			if msg.Additionals[i].Type != layers.DNSTypeOPT {
				add(&msg.Additionals[i])
			}
		}
	}
	return own
}

// keyOf identifies a transaction: the id and the first question, so that
// two clients' queries reusing an id on one flow do not match each other's
// answers.
func keyOf(msg *layers.DNS) txKey {
	k := txKey{id: msg.ID}
	if len(msg.Questions) > 0 {
		q := &msg.Questions[0]
		k.q = hashName(fnvOffset, q.Name)
		k.q = hashU16(k.q, uint16(q.Type))
		k.q = hashU16(k.q, uint16(q.Class)&0x7fff)
	}
	return k
}

func questionsHash(msg *layers.DNS) uint64 {
	h := uint64(fnvOffset)
	for i := range msg.Questions {
		h = hashName(h, msg.Questions[i].Name)
		h = hashU16(h, uint16(msg.Questions[i].Type))
	}
	return h
}

// recordsHash identifies an announcement by its records' names, types and
// data, ignoring TTLs (which count down between repeats).
func recordsHash(msg *layers.DNS) uint64 {
	h := uint64(fnvOffset)
	for _, rrs := range [2][]layers.DNSResourceRecord{msg.Answers, msg.Additionals} {
		for i := range rrs {
			rr := &rrs[i]
			h = hashName(h, rr.Name)
			h = hashU16(h, uint16(rr.Type))
			for _, c := range rr.Data {
				h = (h ^ uint64(c)) * fnvPrime
			}
		}
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashName hashes a name case-insensitively (DNS names compare so, and
// resolvers randomise case against spoofing).
func hashName(h uint64, n []byte) uint64 {
	for _, c := range n {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return (h ^ 0x100) * fnvPrime
}

func hashU16(h uint64, v uint16) uint64 {
	h = (h ^ uint64(v>>8)) * fnvPrime
	return (h ^ uint64(v&0xff)) * fnvPrime
}

// reverseAddr turns a reverse-lookup name (d.c.b.a.in-addr.arpa or 32
// nibbles.ip6.arpa) into the address it asks about.
func reverseAddr(name string) (netip.Addr, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		var b [4]byte
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 {
				return netip.Addr{}, false
			}
			b[3-i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		if len(rest) != 63 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			c := rest[62-2*i]
			if i < 31 && rest[62-2*i-1] != '.' {
				return netip.Addr{}, false
			}
			var v byte
			switch {
			case '0' <= c && c <= '9':
				v = c - '0'
			case 'a' <= c && c <= 'f':
				v = c - 'a' + 10
			default:
				return netip.Addr{}, false
			}
			if i%2 == 0 {
				b[i/2] = v << 4
			} else {
				b[i/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func rcodeName(rc layers.DNSResponseCode) string {
	names := [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}
	if int(rc) < len(names) {
		return names[rc]
	}
	return "RCODE" + strconv.Itoa(int(rc))
}

func typeName(t layers.DNSType) string {
	switch t {
	case 255:
		return "ANY"
	case 252:
		return "AXFR"
	case 251:
		return "IXFR"
	case 47:
		return "NSEC"
	case 50:
		return "NSEC3"
	case 43:
		return "DS"
	}
	if s := t.String(); s != "Unknown" {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func className(c uint16) string {
	switch c {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 255:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// clean makes a wire name printable: valid UTF-8 is kept (mDNS instance
// names use it), control bytes and invalid sequences become '?', so that a
// hostile name cannot forge log lines or terminal escapes.
func clean(b []byte) string {
	ok := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r == utf8.RuneError || r < 0x20 || (r >= 0x7f && r < 0xa0) {
			sb.WriteByte('?')
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
