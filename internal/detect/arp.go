package detect

import (
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/sensor"
)

// binding is which MAC claims an IPv4 address, and the claim before.
type binding struct {
	mac      [6]byte
	last     int64
	prev     [6]byte
	prevLast int64
	changed  int64
	inc      *incident
	// claims counted while an alert is open
	oldClaims, newClaims uint64
}

// storm counts one MAC's gratuitous ARPs in a tumbling window.
type storm struct {
	start int64
	n     uint32
	last  int64
	inc   *incident
}

type arpState struct {
	bind   map[netip.Addr]*binding
	storms map[[6]byte]*storm
}

func (s *arpState) init() {
	s.bind = map[netip.Addr]*binding{}
	s.storms = map[[6]byte]*storm{}
}

// sweep forgets bindings and storm counters idle for a day.
func (s *arpState) sweep(e *Engine, now time.Time) {
	if now.Second() != 0 {
		return // once a minute is enough
	}
	cut := now.Add(-24 * time.Hour).UnixNano()
	for a, b := range s.bind {
		if b.last < cut && b.inc == nil {
			delete(s.bind, a)
		}
	}
	for m, st := range s.storms {
		if st.last < cut && st.inc == nil {
			delete(s.storms, m)
		}
	}
}

// arpMessage feeds host sweeps (requests that go unanswered), spoofing
// (an address claimed by a new MAC while the old one still answers) and
// gratuitous ARP storms.
func (e *Engine) arpMessage(a *sensor.ARP) {
	now := a.Time.UnixNano()
	sender, target := a.SenderIP.Unmap(), a.TargetIP.Unmap()
	claim := sender.IsValid() && !sender.IsUnspecified() && a.SenderMAC != [6]byte{}
	gratuitous := claim && sender == target

	// Host sweeps: a request for an address that never answers.
	if r := e.cur.hostSweep; r != nil {
		switch {
		case a.Op == 1 && claim && !gratuitous && target.IsValid() && !ignored(r, sender):
			if h, slot := e.hostFor(sender, now); h != nil && int(h.entries) < e.lim.MaxProbesPerSource {
				h.last = now
				h.mac, h.hasMAC = a.SenderMAC, true
				e.addPair(pairARPWait, h, slot, target, 0, now)
			}
		case a.Op == 2 && claim && target.IsValid():
			// The reply to requester target for address sender.
			if h, slot := e.hosts.find(target); h != nil {
				if p := e.pairs.find(pairKey(pairARPWait, slot, h.gen, sender, 0)); p != nil {
					p.answered = true
				}
			}
		}
	}
	if !claim {
		return
	}
	if r := e.cur.arpSpoof; r != nil {
		e.arpClaim(r, sender, a, now)
	}
	if r := e.cur.arpStorm; r != nil && (gratuitous || (a.Op == 2 && a.TargetMAC == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})) {
		e.arpGratuitous(r, a, now)
	}
}

// arpClaim follows which MAC claims sender. A new MAC taking an address
// whose holder was active within the window is remembered; when the old
// MAC then claims the address again within the window, two devices
// answer for one address: the signature of ARP cache poisoning (or of a
// duplicate address, which is worth fixing too).
func (e *Engine) arpClaim(r *rule, ip netip.Addr, a *sensor.ARP, now int64) {
	b := e.arp.bind[ip]
	if b == nil {
		if len(e.arp.bind) >= e.lim.MaxBindings {
			e.stats.BindingsFull++
			return
		}
		e.arp.bind[ip] = &binding{mac: a.SenderMAC, last: now}
		return
	}
	win := int64(r.window)
	mac := a.SenderMAC
	switch {
	case mac == b.mac:
		b.last = now
		if b.inc != nil {
			b.newClaims++
			e.arpSpoofUpdate(b, a)
		}
		return
	case mac == b.prev && now-b.changed <= win:
		// The displaced holder answers again: conflict.
		b.prev, b.mac = b.mac, mac
		b.prevLast, b.last = b.last, now
		b.changed = now
		if b.inc != nil {
			b.oldClaims++
			e.arpSpoofUpdate(b, a)
			return
		}
		b.oldClaims, b.newClaims = 1, 1
		// The address's newer claimant (b.prev now) is the suspect.
		inc := newIncident(r, ip.String(), time.Unix(0, b.prevLast).UTC(), event.Endpoint{IP: ip, MAC: macText(b.prev)})
		inc.addTarget(event.Endpoint{IP: ip, MAC: macText(b.mac)})
		inc.targetCount = 1
		inc.count = 2
		inc.end = a.Time
		inc.addSample("new_mac", macText(b.prev))
		inc.addSample("old_mac", macText(b.mac))
		inc.addEvidence(event.Reference{Frame: a.Frame, Time: a.Time, What: "arp"})
		inc.setCount("claims_old", 1)
		inc.setCount("claims_new", 1)
		inc.onFinal = func(*incident) {
			if b.inc == inc {
				b.inc = nil
			}
		}
		if e.openIncident(inc) {
			b.inc = inc
		}
	default:
		if now-b.last <= win {
			b.prev, b.prevLast = b.mac, b.last
		} else {
			// The old holder is gone: a reassignment, not a conflict.
			b.prev, b.prevLast = [6]byte{}, 0
		}
		b.mac, b.last, b.changed = mac, now, now
	}
}

func (e *Engine) arpSpoofUpdate(b *binding, a *sensor.ARP) {
	inc := b.inc
	inc.hit(a.Time)
	inc.setCount("claims_old", b.oldClaims)
	inc.setCount("claims_new", b.newClaims)
	if inc.nEv < maxEvidence {
		inc.addEvidence(event.Reference{Frame: a.Frame, Time: a.Time, What: "arp"})
	}
}

// arpGratuitous counts unsolicited announcements per MAC.
func (e *Engine) arpGratuitous(r *rule, a *sensor.ARP, now int64) {
	st := e.arp.storms[a.SenderMAC]
	if st == nil {
		if len(e.arp.storms) >= e.lim.MaxBindings {
			e.stats.BindingsFull++
			return
		}
		st = &storm{start: now}
		e.arp.storms[a.SenderMAC] = st
	}
	st.last = now
	if st.inc != nil {
		st.inc.hit(a.Time)
		st.inc.setCount("gratuitous", st.inc.count)
		return
	}
	if now-st.start > int64(r.window) {
		st.start, st.n = now, 0
	}
	st.n++
	if int(st.n) < r.params.int("min_gratuitous") {
		return
	}
	mac := macText(a.SenderMAC)
	inc := newIncident(r, mac, time.Unix(0, st.start).UTC(), event.Endpoint{IP: a.SenderIP, MAC: mac})
	inc.count = uint64(st.n)
	inc.end = a.Time
	inc.setCount("gratuitous", uint64(st.n))
	inc.addSample("mac", mac)
	inc.addEvidence(event.Reference{Frame: a.Frame, Time: a.Time, What: "arp"})
	inc.onFinal = func(*incident) {
		if st.inc == inc {
			st.inc = nil
			st.n = 0
		}
	}
	if e.openIncident(inc) {
		st.inc = inc
	}
}
