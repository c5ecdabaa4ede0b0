// Package defrag reassembles fragmented IPv4 and IPv6 datagrams under hard
// memory bounds.
//
// Fragments are rare in hospital traffic but a favourite of hostile input,
// so every resource is capped: datagrams in flight, bytes held, fragments
// per datagram and the time a datagram may wait. Overlapping fragments
// discard their datagram (RFC 5722; Linux does the same for IPv4), so that
// no overlap trick can make the sensor see other bytes than the target.
package defrag

import (
	"sort"
	"time"

	"github.com/heir-emd/heir/internal/packet"
)

// Limits bound the defragmenter.
type Limits struct {
	// Datagrams is the most datagrams in reassembly at once; when full the
	// oldest is dropped (and counted).
	Datagrams int
	// Bytes is the most fragment data held at once, over all datagrams;
	// when reached the oldest datagrams are dropped until the new fragment fits.
	Bytes int
	// Fragments is the most fragments one datagram may have.
	Fragments int
	// Timeout is how long a datagram may wait for its missing fragments,
	// in capture time.
	Timeout time.Duration
}

// DefaultLimits suit a sensor on a busy hospital network: 16 MiB at most.
var DefaultLimits = Limits{Datagrams: 4096, Bytes: 16 << 20, Fragments: 128, Timeout: 30 * time.Second}

// Stats count what the defragmenter did.
type Stats struct {
	Fragments   uint64 `json:"fragments"`
	Reassembled uint64 `json:"reassembled"`
	Duplicates  uint64 `json:"duplicates"`
	Overlaps    uint64 `json:"overlaps"`
	Invalid     uint64 `json:"invalid"`
	TooMany     uint64 `json:"too_many_fragments"`
	Evicted     uint64 `json:"evicted"`
	TimedOut    uint64 `json:"timed_out"`
}

type key struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

type frag struct {
	off  int
	data []byte
}

type datagram struct {
	key        key
	first      time.Time
	frags      []frag
	have       int
	total      int // -1 until the last fragment is seen
	size       int // bytes held
	prev, next *datagram
}

// Defragmenter reassembles datagrams. It is not safe for concurrent use.
type Defragmenter struct {
	lim   Limits
	m     map[key]*datagram
	head  *datagram // oldest
	tail  *datagram
	bytes int
	out   []byte
	stats Stats
}

// New returns a Defragmenter bounded by lim.
func New(lim Limits) *Defragmenter {
	if lim.Datagrams <= 0 {
		lim.Datagrams = DefaultLimits.Datagrams
	}
	if lim.Bytes <= 0 {
		lim.Bytes = DefaultLimits.Bytes
	}
	if lim.Fragments <= 0 {
		lim.Fragments = DefaultLimits.Fragments
	}
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultLimits.Timeout
	}
	return &Defragmenter{lim: lim, m: make(map[key]*datagram)}
}

// Stats returns the counters so far.
func (d *Defragmenter) Stats() Stats { return d.stats }

// Pending returns the number of datagrams waiting for fragments.
func (d *Defragmenter) Pending() int { return len(d.m) }

// Add takes one fragment (p.Fragment set) seen at now. When it completes its
// datagram, Add returns the datagram's IP payload (the transport header and
// data), valid until the next call, and true.
func (d *Defragmenter) Add(p *packet.Packet, now time.Time) ([]byte, bool) {
	d.stats.Fragments++
	d.expire(now)
	end := p.FragOffset + len(p.IPPayload)
	if end > 65535 || (p.MoreFragments && len(p.IPPayload)%8 != 0) || len(p.IPPayload) == 0 {
		d.stats.Invalid++
		return nil, false
	}
	k := key{src: p.Src.As16(), dst: p.Dst.As16(), id: p.FragID, proto: p.Proto, v6: p.IPVersion == 6}
	dg := d.m[k]
	if dg == nil {
		for len(d.m) >= d.lim.Datagrams {
			d.stats.Evicted++
			d.drop(d.head)
		}
		dg = &datagram{key: k, first: now, total: -1}
		d.m[k] = dg
		d.pushBack(dg)
	}
	if !p.MoreFragments {
		if dg.total >= 0 && dg.total != end {
			d.stats.Overlaps++
			d.drop(dg)
			return nil, false
		}
		dg.total = end
	}
	if dg.total >= 0 && end > dg.total {
		d.stats.Overlaps++
		d.drop(dg)
		return nil, false
	}
	// Find the insertion point; reject overlaps, ignore exact duplicates.
	i := sort.Search(len(dg.frags), func(i int) bool { return dg.frags[i].off >= p.FragOffset })
	if i < len(dg.frags) && dg.frags[i].off == p.FragOffset && len(dg.frags[i].data) == len(p.IPPayload) {
		d.stats.Duplicates++
		return nil, false
	}
	if (i > 0 && dg.frags[i-1].off+len(dg.frags[i-1].data) > p.FragOffset) ||
		(i < len(dg.frags) && dg.frags[i].off < end) {
		d.stats.Overlaps++
		d.drop(dg)
		return nil, false
	}
	if len(dg.frags) >= d.lim.Fragments {
		d.stats.TooMany++
		d.drop(dg)
		return nil, false
	}
	for d.bytes+len(p.IPPayload) > d.lim.Bytes && d.head != nil && d.head != dg {
		d.stats.Evicted++
		d.drop(d.head)
	}
	if d.bytes+len(p.IPPayload) > d.lim.Bytes {
		d.stats.Evicted++
		d.drop(dg)
		return nil, false
	}
	data := append([]byte(nil), p.IPPayload...)
	dg.frags = append(dg.frags, frag{})
	copy(dg.frags[i+1:], dg.frags[i:])
	dg.frags[i] = frag{off: p.FragOffset, data: data}
	dg.have += len(data)
	dg.size += len(data)
	d.bytes += len(data)
	if dg.total < 0 || dg.have != dg.total {
		return nil, false
	}
	// Without overlaps, holding exactly total bytes means no holes.
	d.out = d.out[:0]
	for _, f := range dg.frags {
		d.out = append(d.out, f.data...)
	}
	d.drop(dg)
	d.stats.Reassembled++
	return d.out, true
}

// Expire drops datagrams that waited longer than the timeout before now.
func (d *Defragmenter) Expire(now time.Time) { d.expire(now) }

func (d *Defragmenter) expire(now time.Time) {
	for d.head != nil && now.Sub(d.head.first) > d.lim.Timeout {
		d.stats.TimedOut++
		d.drop(d.head)
	}
}

func (d *Defragmenter) pushBack(dg *datagram) {
	dg.prev = d.tail
	if d.tail != nil {
		d.tail.next = dg
	} else {
		d.head = dg
	}
	d.tail = dg
}

func (d *Defragmenter) drop(dg *datagram) {
	if dg.prev != nil {
		dg.prev.next = dg.next
	} else {
		d.head = dg.next
	}
	if dg.next != nil {
		dg.next.prev = dg.prev
	} else {
		d.tail = dg.prev
	}
	dg.prev, dg.next = nil, nil
	d.bytes -= dg.size
	delete(d.m, dg.key)
}
