package defrag

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/packet"
)

var t0 = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func fragment(v6 bool, id uint32, off int, more bool, data []byte) *packet.Packet {
	p := &packet.Packet{Fragment: true, FragID: id, FragOffset: off, MoreFragments: more, IPPayload: data, Proto: 17}
	if v6 {
		p.IPVersion = 6
		p.Src, p.Dst = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	} else {
		p.IPVersion = 4
		p.Src, p.Dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	}
	return p
}

// split cuts data into fragments of size (a multiple of 8) but the last.
func split(v6 bool, id uint32, data []byte, size int) []*packet.Packet {
	var out []*packet.Packet
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		out = append(out, fragment(v6, id, off, end < len(data), data[off:end]))
	}
	return out
}

func TestReassemblesInAnyOrder(t *testing.T) {
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, v6 := range []bool{false, true} {
		for seed := uint64(0); seed < 20; seed++ {
			d := New(Limits{})
			fr := split(v6, 9, data, 8*(3+int(seed)%40)) // at most 125 fragments: within the default limit
			rand.New(rand.NewPCG(seed, 2)).Shuffle(len(fr), func(i, j int) { fr[i], fr[j] = fr[j], fr[i] })
			var got []byte
			for i, p := range fr {
				out, ok := d.Add(p, t0)
				if ok != (i == len(fr)-1) {
					t.Fatalf("v6=%v seed %d: complete=%v at fragment %d of %d", v6, seed, ok, i, len(fr))
				}
				if ok {
					got = append([]byte(nil), out...)
				}
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("v6=%v seed %d: reassembled %d bytes differ", v6, seed, len(got))
			}
			if d.Pending() != 0 || d.bytes != 0 {
				t.Fatalf("state left behind: %d pending, %d bytes", d.Pending(), d.bytes)
			}
		}
	}
}

func TestOverlapDiscardsDatagram(t *testing.T) {
	d := New(Limits{})
	d.Add(fragment(false, 1, 0, true, make([]byte, 16)), t0)
	if _, ok := d.Add(fragment(false, 1, 8, true, make([]byte, 16)), t0); ok {
		t.Fatal("overlapping fragment completed a datagram")
	}
	if d.Stats().Overlaps != 1 || d.Pending() != 0 {
		t.Fatalf("stats %+v pending %d", d.Stats(), d.Pending())
	}
	// Exact duplicates are tolerated.
	d.Add(fragment(false, 2, 0, true, make([]byte, 16)), t0)
	d.Add(fragment(false, 2, 0, true, make([]byte, 16)), t0)
	if _, ok := d.Add(fragment(false, 2, 16, false, make([]byte, 4)), t0); !ok || d.Stats().Duplicates != 1 {
		t.Fatalf("duplicate handling: stats %+v", d.Stats())
	}
}

func TestLimits(t *testing.T) {
	d := New(Limits{Datagrams: 4, Bytes: 1 << 20, Fragments: 3, Timeout: time.Second})
	for id := uint32(0); id < 10; id++ {
		d.Add(fragment(false, id, 0, true, make([]byte, 8)), t0)
	}
	if d.Pending() != 4 || d.Stats().Evicted != 6 {
		t.Fatalf("pending %d stats %+v", d.Pending(), d.Stats())
	}
	d.Expire(t0.Add(2 * time.Second))
	if d.Pending() != 0 || d.Stats().TimedOut != 4 || d.bytes != 0 {
		t.Fatalf("timeout: pending %d stats %+v bytes %d", d.Pending(), d.Stats(), d.bytes)
	}
	for i := 0; i < 4; i++ {
		d.Add(fragment(false, 99, i*8, true, make([]byte, 8)), t0)
	}
	if d.Stats().TooMany != 1 || d.Pending() != 0 {
		t.Fatalf("too many fragments: %+v", d.Stats())
	}
	if _, ok := d.Add(fragment(false, 5, 65528, false, make([]byte, 16)), t0); ok || d.Stats().Invalid != 1 {
		t.Fatalf("datagram beyond 65535 bytes accepted: %+v", d.Stats())
	}
	small := New(Limits{Bytes: 64})
	for id := uint32(0); id < 20; id++ {
		small.Add(fragment(false, id, 0, true, make([]byte, 24)), t0)
		if small.bytes > 64 {
			t.Fatalf("holding %d bytes over a 64-byte limit", small.bytes)
		}
	}
}

func FuzzDefrag(f *testing.F) {
	f.Add([]byte{0, 0, 1, 8, 0, 0, 1, 0, 8, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		// Each 5-byte step: id, offset/8 (2 bytes), more flag, length/8.
		d := New(Limits{Datagrams: 8, Bytes: 4096, Fragments: 16, Timeout: time.Second})
		buf := make([]byte, 65536)
		for i := 0; i+5 <= len(script); i += 5 {
			s := script[i : i+5]
			off := (int(s[1])<<8 | int(s[2])) * 8
			n := int(s[4]) * 8
			if s[3]&2 != 0 {
				n++ // misaligned
			}
			p := fragment(s[3]&4 != 0, uint32(s[0]), off, s[3]&1 != 0, buf[:min(n, len(buf))])
			out, ok := d.Add(p, t0.Add(time.Duration(i)*time.Millisecond))
			if ok && len(out) > 65535 {
				t.Fatalf("datagram of %d bytes", len(out))
			}
			if d.bytes > 4096 || d.Pending() > 8 || d.bytes < 0 {
				t.Fatalf("bounds broken: %d bytes, %d pending", d.bytes, d.Pending())
			}
		}
	})
}
