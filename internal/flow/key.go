package flow

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/packet"
)

// Key identifies a bidirectional flow: the two endpoints in a canonical
// order (A is the smaller), the transport and the VLAN.
type Key struct {
	A, B         [16]byte
	APort, BPort uint16
	VLAN         uint16
	Proto        uint8
	V6           bool
}

// keyOf returns the flow key of p and whether p travels from A to B.
func keyOf(p *packet.Packet) (Key, bool) {
	var k Key
	k.Proto = p.Proto
	k.V6 = p.IPVersion == 6
	if p.NVLAN > 0 {
		k.VLAN = p.VLANs[p.NVLAN-1]
	}
	src, dst := p.Src.As16(), p.Dst.As16()
	sp, dp := p.SrcPort, p.DstPort
	if p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6 {
		sp, dp = 0, 0
	}
	c := bytes.Compare(src[:], dst[:])
	if c < 0 || (c == 0 && sp <= dp) {
		k.A, k.B, k.APort, k.BPort = src, dst, sp, dp
		return k, true
	}
	k.A, k.B, k.APort, k.BPort = dst, src, dp, sp
	return k, false
}

func (k *Key) addr(a bool) netip.Addr {
	b := k.B
	if a {
		b = k.A
	}
	ad := netip.AddrFrom16(b)
	if !k.V6 {
		return ad.Unmap()
	}
	return ad
}

// id derives a flow's stable identifier from its key and start time, so
// that the same capture always yields the same ids.
func (k *Key) id(start time.Time) string {
	h := fnv.New64a()
	var buf [8]byte
	h.Write(k.A[:])
	h.Write(k.B[:])
	binary.BigEndian.PutUint16(buf[0:2], k.APort)
	binary.BigEndian.PutUint16(buf[2:4], k.BPort)
	binary.BigEndian.PutUint16(buf[4:6], k.VLAN)
	buf[6] = k.Proto
	h.Write(buf[:7])
	binary.BigEndian.PutUint64(buf[:], uint64(start.UnixNano()))
	h.Write(buf[:])
	var hex [16]byte
	binary.BigEndian.PutUint64(buf[:], h.Sum64())
	const digits = "0123456789abcdef"
	for i, b := range buf {
		hex[2*i], hex[2*i+1] = digits[b>>4], digits[b&0x0f]
	}
	return string(hex[:])
}
