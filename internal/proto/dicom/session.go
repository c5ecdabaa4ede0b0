package dicom

import (
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// maxCommand bounds the command set reassembled from PDV fragments; real
// ones are a few hundred bytes. Larger ones are dropped and counted.
const maxCommand = 64 << 10

// Fact confidences: what the protocol states about the sender, and roles
// inferred from a flow picked up mid-way.
const (
	confStated   = 0.9
	confMidway   = 0.6
	confActivity = 0.9
)

// pctx is one presentation context of the association.
type pctx struct {
	id       uint8
	abstract string
	ts       string
	syn      syntax
	accepted bool
}

// contexts maps presentation context IDs to what was negotiated for them.
type contexts struct {
	idx  [256]uint8 // 1 + position in list; 0 when unknown
	list []pctx
}

func (c *contexts) reset() {
	c.idx = [256]uint8{}
	c.list = c.list[:0]
}

func (c *contexts) get(id uint8) *pctx {
	if i := c.idx[id]; i > 0 {
		return &c.list[i-1]
	}
	return nil
}

// add returns the context id, creating it when there is room.
func (c *contexts) add(id uint8) *pctx {
	if p := c.get(id); p != nil {
		return p
	}
	if len(c.list) >= maxContexts {
		return nil
	}
	c.list = append(c.list, pctx{id: id})
	c.idx[id] = uint8(len(c.list))
	return &c.list[len(c.list)-1]
}

// pending is a DIMSE command whose data set is being read.
type pending struct {
	active  bool // the data set has not ended yet
	emitted bool // the observation is out
	cmd     command
	ctx     uint8
	meta    proto.Meta
	scan    scanner
}

// dirState is the framing state of one direction.
type dirState struct {
	inPDU   bool   // inside a P-DATA-TF PDU
	pduLeft uint64 // its body bytes still to come
	inPDV   bool   // inside a PDV's value
	pdvLeft uint64 // its bytes still to come
	pdvCtx  uint8
	pdvMCH  uint8
	cmd     []byte // command fragments so far
	cmdDrop bool   // the command being received is dropped
	cmdCtx  uint8
	msg     pending
	lost    bool // framing lost: wait for a PDU start
	bytes   uint64
	pdus    int
}

// factKey identifies a fact by the endpoint it is about (the sender of
// ToServer data, the client, or of ToClient data, the server), so that a
// value both ends share (the same implementation version) is kept for
// each.
type factKey struct {
	side  proto.Dir
	attr  event.Attr
	value string
}

// session decodes one DICOM flow.
type session struct {
	c         *proto.Conn
	out       proto.Sink
	dirs      [2]dirState
	ctx       contexts
	calling   string
	called    string
	sum       Summary
	commands  map[string]int
	seen      []factKey
	started   bool
	finished  bool
	midStream bool
}

func newSession(c *proto.Conn, out proto.Sink) *session {
	return &session{c: c, out: out}
}

// Feed implements proto.Session.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	dir &= 1
	if s.finished {
		return len(data), true
	}
	st := &s.dirs[dir]
	pos := 0
	for pos < len(data) && !s.finished {
		if st.lost {
			v, _, _ := probe(data[pos:])
			if v == proto.Unsure {
				break
			}
			if v == proto.No {
				pos = len(data)
				break
			}
			st.lost = false
		}
		if !st.inPDU {
			rest := data[pos:]
			if len(rest) < 6 {
				break
			}
			typ := rest[0]
			l := binary.BigEndian.Uint32(rest[2:6])
			if typ < pduAssociateRQ || typ > pduAbort || rest[1] != 0 || l > maxPDU {
				s.sum.Malformed++
				s.lose(dir, "framing lost")
				continue
			}
			if !s.started {
				s.started = true
				s.midStream = typ != pduAssociateRQ
				s.sum.MidStream = s.midStream
			}
			if typ == pduPData {
				st.pdus++
				pos += 6
				if l < pdvHeader {
					s.sum.Malformed++
					pos += int(l)
					continue
				}
				st.inPDU, st.pduLeft = true, uint64(l)
				continue
			}
			if l > maxControlPDU {
				st.pdus++
				s.sum.OversizedPDUs++
				pos += 6 + int(l)
				continue
			}
			if len(rest) < 6+int(l) {
				break
			}
			st.pdus++
			s.control(dir, typ, rest[6:6+int(l)], m)
			pos += 6 + int(l)
			continue
		}
		if !st.inPDV {
			if st.pduLeft == 0 {
				st.inPDU = false
				continue
			}
			rest := data[pos:]
			if st.pduLeft < pdvHeader {
				s.sum.Malformed++
				pos += int(st.pduLeft)
				st.inPDU, st.pduLeft = false, 0
				continue
			}
			if len(rest) < pdvHeader {
				break
			}
			pl := binary.BigEndian.Uint32(rest[0:4])
			if pl < 2 || uint64(pl)+4 > st.pduLeft {
				// The PDU's own length still frames the stream: skip
				// the rest of this PDU.
				s.sum.Malformed++
				pos += int(st.pduLeft)
				st.inPDU, st.pduLeft = false, 0
				continue
			}
			st.inPDV = true
			st.pdvCtx, st.pdvMCH = rest[4], rest[5]
			st.pdvLeft = uint64(pl) - 2
			st.pduLeft -= pdvHeader
			pos += pdvHeader
			s.startPDV(dir, st)
			if st.pdvLeft == 0 {
				st.inPDV = false
				s.endPDV(dir, st, m)
			}
			continue
		}
		n := min(uint64(len(data)-pos), st.pdvLeft)
		if s.pdvBody(dir, st, data[pos:pos+int(n)]) {
			n = st.pdvLeft
		}
		pos += int(n)
		st.pdvLeft -= n
		st.pduLeft -= n
		if st.pdvLeft == 0 {
			st.inPDV = false
			s.endPDV(dir, st, m)
		}
	}
	st.bytes += uint64(pos)
	return pos, s.finished
}

// lose gives up the framing of dir until a PDU start shows up.
func (s *session) lose(dir proto.Dir, note string) {
	st := &s.dirs[dir]
	s.flush(dir, note)
	st.inPDU, st.pduLeft = false, 0
	st.inPDV, st.pdvLeft = false, 0
	st.cmd = st.cmd[:0]
	st.cmdDrop = false
	st.lost = true
}

// startPDV is called when a PDV's header has been read.
func (s *session) startPDV(dir proto.Dir, st *dirState) {
	if st.pdvMCH&mchCommand != 0 {
		if st.msg.active {
			// A new command while the previous data set is unfinished.
			s.flush(dir, "data set incomplete")
		}
		if len(st.cmd) == 0 && !st.cmdDrop {
			st.cmdCtx = st.pdvCtx
		}
		if !st.cmdDrop && uint64(len(st.cmd))+st.pdvLeft > maxCommand {
			s.sum.OversizedCommands++
			st.cmdDrop = true
			st.cmd = st.cmd[:0]
		}
		return
	}
	if len(st.cmd) > 0 || st.cmdDrop {
		// Data before the command's last fragment breaks PS3.8 9.3.5.1.
		s.sum.Malformed++
		st.cmd = st.cmd[:0]
		st.cmdDrop = false
	}
}

// pdvBody takes bytes of the current PDV; it returns true when the rest
// of the PDV is not needed.
func (s *session) pdvBody(dir proto.Dir, st *dirState, b []byte) bool {
	if st.pdvMCH&mchCommand != 0 {
		if st.cmdDrop {
			return true
		}
		st.cmd = append(st.cmd, b...)
		return false
	}
	p := &st.msg
	if !p.active || p.scan.done {
		return true
	}
	p.scan.feed(b)
	if p.scan.done {
		s.emitPending(dir)
		return true
	}
	return false
}

// endPDV is called when a PDV's value has been passed.
func (s *session) endPDV(dir proto.Dir, st *dirState, m proto.Meta) {
	if st.pdvMCH&mchLast == 0 {
		return
	}
	if st.pdvMCH&mchCommand != 0 {
		if !st.cmdDrop {
			s.command(dir, st.cmd, st.cmdCtx, m)
		}
		st.cmd = st.cmd[:0]
		st.cmdDrop = false
		return
	}
	if st.msg.active {
		st.msg.scan.end()
		s.emitPending(dir)
		st.msg.active = false
	}
}

// command handles a complete command set.
func (s *session) command(dir proto.Dir, b []byte, ctx uint8, m proto.Meta) {
	cmd, err := parseCommand(b)
	if err != nil {
		s.sum.Malformed++
		if cmd.has&hasField == 0 {
			return
		}
	}
	st := &s.dirs[dir]
	st.msg = pending{cmd: cmd, ctx: ctx, meta: m}
	if !cmd.dataSet() {
		s.emitPending(dir)
		return
	}
	st.msg.active = true
	syn := synUnknown
	if p := s.ctx.get(ctx); p != nil {
		syn = p.syn
	}
	st.msg.scan.reset(syn)
	if st.msg.scan.done {
		s.emitPending(dir)
	}
}

// flush emits dir's pending message, if any, noting why its data set was
// cut short.
func (s *session) flush(dir proto.Dir, note string) {
	p := &s.dirs[dir].msg
	if p.active && !p.emitted {
		p.scan.finish(note)
		s.emitPending(dir)
	}
	p.active = false
}

// emitPending emits the observation of dir's current DIMSE message once.
func (s *session) emitPending(dir proto.Dir) {
	p := &s.dirs[dir].msg
	if p.emitted {
		return
	}
	p.emitted = true
	c := &p.cmd
	name, kind := commandNames(c.field)
	d := &Message{
		Command:      name,
		CommandField: c.field,
		SOPClass:     c.sopClass,
		SOPClassName: UIDName(c.sopClass),
		ContextID:    p.ctx,
		DataSet:      c.dataSet(),
	}
	// The detail gets its own copies: the pending command is reused.
	vals := new([6]uint16)
	if c.has&hasMessageID != 0 {
		vals[0] = c.messageID
		d.MessageID = &vals[0]
	}
	if c.has&hasRespondingTo != 0 {
		vals[1] = c.respondTo
		d.RespondingTo = &vals[1]
	}
	if c.has&hasStatus != 0 {
		d.Status = hex16(c.status)
		d.StatusClass = statusClass(c.status)
		d.StatusText = statusText(c.status)
		if d.StatusClass == statusFailure {
			s.sum.Failures++
		}
	}
	if c.has&hasPriority != 0 && !c.isResponse() {
		d.Priority = priorityText(c.priority)
	}
	d.MoveDestination = c.moveDest
	for i, dst := range []**uint16{&d.Remaining, &d.Completed, &d.Failed, &d.Warning} {
		if c.has&(hasRemaining<<i) != 0 {
			vals[2+i] = c.subops[i]
			*dst = &vals[2+i]
		}
	}
	if d.DataSet {
		if pc := s.ctx.get(p.ctx); pc != nil {
			d.TransferSyntax = pc.ts
		}
		d.QueryLevel = p.scan.level
		d.PatientAttributes = attributes(p.scan.found)
		d.Wildcards = attributes(p.scan.wild)
		d.DataSetNote = p.scan.note
	}
	d.SubOperation = c.field == cStoreRQ && dir == proto.ToClient

	var facts []event.Fact
	conf := confActivity
	if s.midStream {
		conf = confMidway
	}
	if act := activity(c.field); act != "" {
		switch {
		case !c.isResponse() && dir == proto.ToServer:
			s.fact(&facts, dir, event.AboutSrc, event.AttrClient, "dicom:"+act, conf)
		case c.isResponse() && dir == proto.ToClient && servesIt(c):
			s.fact(&facts, dir, event.AboutSrc, event.AttrServer, "dicom:"+act, conf)
		}
	}
	var weak []event.Weakness
	if p.scan.found&patientMask != 0 {
		s.sum.PHIMessages++
		weak = append(weak, event.Weakness{
			Kind:   event.WeakCleartextPHI,
			About:  event.AboutSrc,
			Detail: phiDetail(p.scan.found, name),
		})
	}
	if s.commands == nil {
		s.commands = make(map[string]int)
	}
	s.commands[kind]++
	s.observe(dir, kind, p.meta, d, facts, weak)
}

// servesIt says whether a response shows its sender provides the
// service: a refusal for an unsupported SOP class or operation does not.
func servesIt(c *command) bool {
	if c.has&hasStatus == 0 {
		return true
	}
	return c.status != 0x0122 && c.status != 0x0211
}

// phiDetail words a cleartext-PHI weakness: which attributes, in which
// message, never their values.
func phiDetail(found uint32, command string) string {
	var b strings.Builder
	b.Grow(40 + 12*bits.OnesCount32(found) + len(command))
	b.WriteString("patient attributes ")
	first := true
	for i := range identifyingTags {
		if found&(1<<i) == 0 {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(identifyingStrings[i])
	}
	b.WriteString(" in ")
	b.WriteString(command)
	b.WriteString(" data set")
	return b.String()
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

// control handles a complete A-ASSOCIATE, A-RELEASE or A-ABORT PDU.
func (s *session) control(dir proto.Dir, typ byte, body []byte, m proto.Meta) {
	// An association PDU states its sender's role, whatever came before
	// it in the capture: its facts keep full confidence.
	var facts []event.Fact
	switch typ {
	case pduAssociateRQ:
		a, err := parseAssociate(body, false)
		if a == nil {
			s.sum.Malformed++
			return
		}
		if err != nil {
			a.Malformed = true
			s.sum.Malformed++
		}
		s.sum.Associations++
		s.calling, s.called = a.CallingAE, a.CalledAE
		s.ctx.reset()
		for _, pc := range a.Contexts {
			if p := s.ctx.add(pc.ID); p != nil {
				p.abstract = pc.AbstractSyntax
			}
		}
		if a.CallingAE != "" {
			s.fact(&facts, dir, event.AboutSrc, event.AttrAETitle, a.CallingAE, confStated)
		}
		if a.ImplementationVersion != "" {
			s.fact(&facts, dir, event.AboutSrc, event.AttrSoftware, a.ImplementationVersion, confStated)
		}
		s.fact(&facts, dir, event.AboutSrc, event.AttrClient, Name, confStated)
		var weak []event.Weakness
		if a.UserIdentityType == 2 {
			weak = append(weak, event.Weakness{
				Kind:   event.WeakCleartextCredentials,
				About:  event.AboutDst,
				Detail: "user name and passcode in cleartext A-ASSOCIATE-RQ user identity",
			})
		}
		s.observe(dir, "associate-rq", m, a, facts, weak)
	case pduAssociateAC:
		a, err := parseAssociate(body, true)
		if a == nil {
			s.sum.Malformed++
			return
		}
		if err != nil {
			a.Malformed = true
			s.sum.Malformed++
		}
		s.sum.Accepted++
		for i := range a.Contexts {
			pc := &a.Contexts[i]
			p := s.ctx.add(pc.ID)
			if p == nil {
				continue
			}
			if pc.AbstractSyntax == "" {
				pc.AbstractSyntax = p.abstract
				pc.AbstractSyntaxName = UIDName(p.abstract)
			}
			p.accepted = pc.Result != nil && *pc.Result == 0
			if p.accepted {
				p.ts = pc.TransferSyntax
				p.syn = syntaxOf(p.ts)
			}
		}
		// The AC repeats the called AE title; the one the requestor used
		// is the acceptor's once accepted.
		ae := s.called
		if ae == "" {
			ae = a.CalledAE
		}
		if ae != "" {
			s.fact(&facts, dir, event.AboutSrc, event.AttrAETitle, ae, confStated)
		}
		if a.ImplementationVersion != "" {
			s.fact(&facts, dir, event.AboutSrc, event.AttrSoftware, a.ImplementationVersion, confStated)
		}
		s.fact(&facts, dir, event.AboutSrc, event.AttrServer, Name, confStated)
		s.observe(dir, "associate-ac", m, a, facts, nil)
	case pduAssociateRJ:
		r, err := parseReject(body)
		if err != nil {
			s.sum.Malformed++
			return
		}
		r.CallingAE, r.CalledAE = s.calling, s.called
		s.sum.Rejected++
		s.fact(&facts, dir, event.AboutSrc, event.AttrServer, Name, confStated)
		s.observe(dir, "associate-rj", m, r, facts, nil)
		s.finish()
	case pduReleaseRQ:
		s.observe(dir, "release-rq", m, nil, nil, nil)
	case pduReleaseRP:
		s.sum.Released = true
		s.observe(dir, "release-rp", m, nil, nil, nil)
		s.finish()
	case pduAbort:
		a, err := parseAbort(body)
		if err != nil {
			s.sum.Malformed++
			return
		}
		s.sum.Aborted = true
		s.observe(dir, "abort", m, a, nil, nil)
		s.finish()
	}
}

// finish ends the association: pending messages go out, nothing more is
// read.
func (s *session) finish() {
	s.flush(proto.ToServer, "association ended")
	s.flush(proto.ToClient, "association ended")
	s.finished = true
}

// fact appends a fact unless the flow already reported it.
func (s *session) fact(facts *[]event.Fact, dir proto.Dir, about event.About, attr event.Attr, value string, conf float64) {
	side := dir
	if about == event.AboutDst {
		side = dir.Reverse()
	}
	k := factKey{side: side, attr: attr, value: value}
	for _, f := range s.seen {
		if f == k {
			return
		}
	}
	if len(s.seen) < 64 {
		s.seen = append(s.seen, k)
	}
	*facts = append(*facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: conf})
}

func (s *session) observe(dir proto.Dir, kind string, m proto.Meta, detail any, facts []event.Fact, weak []event.Weakness) {
	o := s.c.Observation(dir, kind, m)
	if detail != nil {
		o.Detail = detail
	}
	o.Facts = facts
	o.Weaknesses = weak
	s.out.Observe(o)
}

// Gap implements proto.Session. A hole inside a PDV's value keeps the
// framing (the PDV and PDU lengths say where the next header is); any
// other hole loses it until a PDU start is seen again.
func (s *session) Gap(dir proto.Dir, n int) {
	dir &= 1
	s.sum.Gaps++
	if s.finished || n <= 0 {
		return
	}
	st := &s.dirs[dir]
	if st.inPDV && uint64(n) <= st.pdvLeft {
		if st.pdvMCH&mchCommand != 0 {
			st.cmdDrop = true
			st.cmd = st.cmd[:0]
		} else if st.msg.active && !st.msg.scan.done {
			st.msg.scan.finish("gap in data set")
			s.emitPending(dir)
		}
		st.pdvLeft -= uint64(n)
		st.pduLeft -= uint64(n)
		if st.pdvLeft == 0 {
			st.inPDV = false
			s.endPDV(dir, st, proto.Meta{})
		}
		return
	}
	s.lose(dir, "gap in data set")
}

// End implements proto.Session: pending messages and the association
// summary go out.
func (s *session) End(m proto.Meta) {
	s.flush(proto.ToServer, "flow ended")
	s.flush(proto.ToClient, "flow ended")
	if !s.started {
		return
	}
	sum := s.sum
	sum.CallingAE, sum.CalledAE = s.calling, s.called
	sum.Commands = s.commands
	sum.BytesToServer, sum.BytesToClient = s.dirs[proto.ToServer].bytes, s.dirs[proto.ToClient].bytes
	sum.PDUsToServer, sum.PDUsToClient = s.dirs[proto.ToServer].pdus, s.dirs[proto.ToClient].pdus
	s.observe(proto.ToServer, "association-summary", m, &sum, nil, nil)
	s.started = false
}
