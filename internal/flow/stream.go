package flow

import (
	"sort"

	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// stream is one direction of a TCP flow under reassembly.
type stream struct {
	init     bool
	next     uint32    // next sequence number expected
	skip     int       // bytes the session asked to skip
	held     []byte    // bytes given to the consumer and not consumed
	ooo      []segment // out-of-order segments, sorted by seq
	oooBytes int
}

type segment struct {
	seq  uint32
	data []byte
}

// maxAhead is how far beyond the expected sequence number a segment may
// start and still be kept for later; further means capture loss, declared
// a gap at once.
const maxAhead = 1 << 22

// maxSegments bounds out-of-order segments per direction.
const maxSegments = 256

func (e *Engine) tcpPacket(f *Flow, p *packet.Packet, side int, m proto.Meta) {
	if !f.wantsData() {
		return
	}
	st := &f.streams[side]
	seq := p.Seq
	if p.TCPFlags&packet.SYN != 0 {
		seq++
		if !st.init {
			st.init = true
			st.next = seq
		}
	}
	if p.TCPFlags&packet.ACK != 0 {
		// The peer acknowledged bytes we never saw before its buffered
		// segments: they were lost to the capture.
		peer := &f.streams[side^1]
		if peer.init && len(peer.ooo) > 0 && int32(p.Ack-peer.next) > 0 {
			e.fillHole(f, side^1, m)
			if !f.wantsData() {
				return
			}
		}
	}
	if len(p.Payload) == 0 {
		return
	}
	if !st.init {
		st.init = true
		st.next = seq
	}
	data := p.Payload
	rel := int32(seq - st.next)
	switch {
	case rel == 0:
		e.deliver(f, side, data, m)
	case rel < 0:
		over := -int64(rel)
		if over >= int64(len(data)) {
			e.stats.Retransmitted++
			return
		}
		e.deliver(f, side, data[over:], m)
	case rel > maxAhead:
		e.gap(f, side, int(rel), m)
		if f.wantsData() {
			e.deliver(f, side, data, m)
		}
	default:
		e.stats.OutOfOrder++
		e.keep(f, side, seq, data, m)
		return
	}
	if f.wantsData() && len(st.ooo) > 0 {
		e.drain(f, side, m)
	}
}

// keep stores an out-of-order segment, declaring the hole before the first
// kept segment a gap when the bounds are reached.
func (e *Engine) keep(f *Flow, side int, seq uint32, data []byte, m proto.Meta) {
	st := &f.streams[side]
	i := sort.Search(len(st.ooo), func(i int) bool { return int32(st.ooo[i].seq-seq) >= 0 })
	if i < len(st.ooo) && st.ooo[i].seq == seq && len(st.ooo[i].data) >= len(data) {
		e.stats.Retransmitted++
		return
	}
	seg := segment{seq: seq, data: append([]byte(nil), data...)}
	st.ooo = append(st.ooo, segment{})
	copy(st.ooo[i+1:], st.ooo[i:])
	st.ooo[i] = seg
	st.oooBytes += len(data)
	e.held += len(data)
	if st.oooBytes > e.cfg.MaxOutOfOrder || len(st.ooo) > maxSegments || e.held > e.cfg.Budget {
		if e.held > e.cfg.Budget {
			e.stats.BudgetExceeded++
		}
		e.fillHole(f, side, m)
	}
}

// fillHole gives up on the bytes missing before the first out-of-order
// segment and delivers what follows.
func (e *Engine) fillHole(f *Flow, side int, m proto.Meta) {
	st := &f.streams[side]
	if len(st.ooo) == 0 {
		return
	}
	if n := int32(st.ooo[0].seq - st.next); n > 0 {
		e.gap(f, side, int(n), m)
	}
	if f.wantsData() {
		e.drain(f, side, m)
	}
}

// drain delivers the out-of-order segments that have become contiguous.
func (e *Engine) drain(f *Flow, side int, m proto.Meta) {
	st := &f.streams[side]
	for len(st.ooo) > 0 && f.wantsData() {
		s := st.ooo[0]
		rel := int32(s.seq - st.next)
		if rel > 0 {
			return
		}
		st.ooo = st.ooo[1:]
		st.oooBytes -= len(s.data)
		e.held -= len(s.data)
		if over := -int64(rel); over < int64(len(s.data)) {
			e.deliver(f, side, s.data[over:], m)
		}
	}
	if len(st.ooo) == 0 {
		st.ooo = nil
	}
}

// gap records n missing bytes in side's stream and tells the session,
// unless they fall in a region it asked to skip anyway.
func (e *Engine) gap(f *Flow, side int, n int, m proto.Meta) {
	st := &f.streams[side]
	st.next += uint32(n)
	e.stats.Gaps++
	e.stats.GapBytes += uint64(n)
	f.gaps++
	if st.skip >= n {
		st.skip -= n
		return
	}
	n -= st.skip
	st.skip = 0
	lost := n + len(st.held)
	e.dropHeld(st)
	switch f.state {
	case stateDissecting:
		f.session.Gap(f.dir(side), lost)
	case stateProbing:
		// The start of the stream is lost: probing the middle of a
		// conversation misleads more than it finds.
		e.giveUp(f)
	}
}

// deliver hands in-order bytes of side to whoever consumes the flow.
func (e *Engine) deliver(f *Flow, side int, data []byte, m proto.Meta) {
	st := &f.streams[side]
	st.next += uint32(len(data))
	if st.skip > 0 {
		n := st.skip
		if n > len(data) {
			n = len(data)
		}
		st.skip -= n
		e.stats.Skipped += uint64(n)
		data = data[n:]
	}
	if len(data) == 0 {
		return
	}
	e.offer(f, side, data, m)
	if f.feedOther && f.state == stateDissecting {
		f.feedOther = false
		if o := side ^ 1; len(f.streams[o].held) > 0 {
			e.offer(f, o, nil, m)
		}
	}
}

// offer gives the consumer the held bytes of side followed by data, and
// keeps what it does not consume.
func (e *Engine) offer(f *Flow, side int, data []byte, m proto.Meta) {
	st := &f.streams[side]
	buf := data
	fromHeld := len(st.held) > 0
	if fromHeld {
		st.held = append(st.held, data...)
		e.held += len(data)
		buf = st.held
	}
	var n int
	var done bool
	switch f.state {
	case stateDissecting:
		n, done = f.session.Feed(f.dir(side), buf, m)
	case stateProbing:
		n, done = e.probe(f, side, buf, m)
	default:
		return
	}
	if done {
		e.finish(f)
		return
	}
	if f.state != stateDissecting && f.state != stateProbing {
		return
	}
	st = &f.streams[side]
	if n < 0 {
		n = 0
	}
	if n >= len(buf) {
		st.skip += n - len(buf)
		e.dropHeld(st)
		return
	}
	rest := buf[n:]
	if fromHeld {
		k := copy(st.held, rest)
		e.held -= len(st.held) - k
		st.held = st.held[:k]
	} else {
		st.held = append(st.held[:0], rest...)
		e.held += len(rest)
	}
	limit := e.cfg.MaxHeld
	if f.state == stateProbing {
		limit = e.cfg.ProbeBytes
	}
	if len(st.held) > limit || e.held > e.cfg.Budget {
		if e.held > e.cfg.Budget {
			e.stats.BudgetExceeded++
		} else {
			e.stats.HeldOverflow++
		}
		lost := len(st.held)
		e.dropHeld(st)
		if f.state == stateProbing {
			e.giveUp(f)
			return
		}
		f.gaps++
		f.session.Gap(f.dir(side), lost)
	}
}

func (e *Engine) dropHeld(st *stream) {
	e.held -= len(st.held)
	if cap(st.held) > 4096 {
		st.held = nil
	} else {
		st.held = st.held[:0]
	}
}

// probe asks the remaining candidate dissectors about buf, which starts at
// the beginning of side's stream (or is one UDP datagram).
func (e *Engine) probe(f *Flow, side int, buf []byte, m proto.Meta) (int, bool) {
	ds, by := e.tcp, e.tcpBy
	if f.conn.Transport == proto.UDP {
		ds, by = e.udp, e.udpBy
	}
	dir := f.dir(side)
	f.probes++
	try := func(i int) (int, bool, bool) {
		if f.cand&(1<<uint(i)) == 0 {
			return 0, false, false
		}
		switch ds[i].Probe(&f.conn, dir, buf) {
		case proto.No:
			f.cand &^= 1 << uint(i)
		case proto.Yes:
			n, done := e.start(f, ds[i], side, buf, m, false)
			return n, done, true
		case proto.YesReversed:
			n, done := e.start(f, ds[i], side, buf, m, true)
			return n, done, true
		}
		return 0, false, false
	}
	// Dissectors of the server's port first: cheaper on average, and the
	// better guess when two protocols could both claim the bytes.
	for _, i := range by[f.conn.Server.Port] {
		if n, done, ok := try(i); ok {
			return n, done
		}
	}
	for i := range ds {
		if n, done, ok := try(i); ok {
			return n, done
		}
	}
	if f.cand == 0 || f.probes >= e.cfg.ProbePackets {
		e.giveUp(f)
		return len(buf), true
	}
	return 0, false
}

// start hands the flow to dissector d, which recognised buf on side.
func (e *Engine) start(f *Flow, d proto.Dissector, side int, buf []byte, m proto.Meta, reversed bool) (int, bool) {
	if reversed {
		f.clientSide ^= 1
		f.conn.Client, f.conn.Server = f.conn.Server, f.conn.Client
	}
	f.state = stateDissecting
	f.dissector = d
	f.conn.Proto = d.Name()
	f.session = d.New(&f.conn, &sessionSink{e: e, f: f})
	e.stats.Dissected++
	f.feedOther = len(f.streams[side^1].held) > 0
	return f.session.Feed(f.dir(side), buf, m)
}

func (e *Engine) giveUp(f *Flow) {
	f.state = stateUnknown
	e.stats.Unknown++
	e.release(f)
}

// finish is called when the session says it is done.
func (e *Engine) finish(f *Flow) {
	f.state = stateDone
	e.release(f)
}

// release frees reassembly memory of f.
func (e *Engine) release(f *Flow) {
	for i := range f.streams {
		st := &f.streams[i]
		e.held -= len(st.held) + st.oooBytes
		st.held, st.ooo, st.oooBytes = nil, nil, 0
	}
}

// datagram hands one UDP payload to the flow's consumer.
func (e *Engine) datagram(f *Flow, side int, payload []byte, m proto.Meta) {
	var done bool
	switch f.state {
	case stateProbing:
		_, done = e.probe(f, side, payload, m)
	case stateDissecting:
		_, done = f.session.Feed(f.dir(side), payload, m)
	}
	if done && f.state == stateDissecting {
		e.finish(f)
	}
}
