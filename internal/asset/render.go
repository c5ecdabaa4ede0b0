package asset

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/oui"
)

// Asset ids are derived from content so that runs over the same traffic
// give the same ids: "mac-024d4c00000a" (the MAC's twelve hex digits) for
// devices with a MAC, "ip-10.77.0.10" for devices known by address only.
const (
	idMAC = "mac-"
	idIP  = "ip-"
)

func macID(v uint64) string { return fmt.Sprintf("%s%012x", idMAC, v) }

// ouiConfidence is how far a MAC's registry block identifies the device's
// maker: the block names the network interface's maker, often a module
// vendor rather than the device's.
const ouiConfidence = 0.6

// Assets returns every device, sorted by lowest address (then MAC for
// devices without one).
func (inv *Inventory) Assets() []event.Asset {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := make([]event.Asset, 0, len(inv.macs)+len(inv.hosts))
	for _, m := range inv.macs {
		out = append(out, inv.render(m))
	}
	for _, h := range inv.hosts {
		if h.mac == 0 {
			out = append(out, inv.render(h))
		}
	}
	sortAssets(out)
	return out
}

// Changes returns the devices that changed since the previous call
// (sorted like Assets), and the ids of devices reported before that no
// longer exist: evicted, or merged into another (an address-only device
// whose MAC became known) or split (a router's addresses). A change is a
// new address, attribute value, higher confidence, service, protocol,
// weakness kind, peer or scan target, or being seen again Config.Refresh
// after the last report; weakness counts and last-seen times alone are
// not (Refresh brings them up to date).
func (inv *Inventory) Changes() (changed []event.Asset, removed []string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	ids := make(map[string]struct{}, len(inv.dirty)+len(inv.gone))
	for r := range inv.dirty {
		cur := currentID(r)
		ids[cur] = struct{}{}
		if r.lastID != "" && r.lastID != cur {
			ids[r.lastID] = struct{}{}
		}
	}
	clear(inv.dirty)
	for id := range inv.gone {
		ids[id] = struct{}{}
	}
	clear(inv.gone)
	for id := range ids {
		r := inv.live(id)
		if r == nil {
			if _, ok := inv.emitted[id]; ok {
				removed = append(removed, id)
				delete(inv.emitted, id)
			}
			continue
		}
		changed = append(changed, inv.render(r))
		inv.emitted[id] = struct{}{}
		r.reportedAt, r.lastID = r.last, id
		if r.isMAC {
			for _, ip := range r.ips {
				if h := inv.hosts[ip]; h != nil {
					h.reportedAt, h.lastID = h.last, id
				}
			}
		}
	}
	// When removals were dropped (no call for a long time while devices
	// churned), sweep ids that are gone so the set stays bounded.
	if len(inv.emitted) > 4*inv.cfg.MaxDevices {
		for id := range inv.emitted {
			if inv.live(id) == nil {
				removed = append(removed, id)
				delete(inv.emitted, id)
			}
		}
	}
	sortAssets(changed)
	slices.Sort(removed)
	return changed, removed
}

// Changed returns the devices changed since the previous call of Changed
// or Changes; the ids of devices gone meanwhile wait for Removed.
func (inv *Inventory) Changed() []event.Asset {
	changed, removed := inv.Changes()
	inv.mu.Lock()
	inv.removed = append(inv.removed, removed...)
	if len(inv.removed) > 2*inv.cfg.MaxDevices {
		inv.stats.GoneDropped += uint64(len(inv.removed) - 2*inv.cfg.MaxDevices)
		inv.removed = inv.removed[len(inv.removed)-2*inv.cfg.MaxDevices:]
	}
	inv.mu.Unlock()
	return changed
}

// Removed returns and forgets the ids of devices found gone by Changed.
func (inv *Inventory) Removed() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	out := inv.removed
	inv.removed = nil
	return out
}

// currentID returns the id of the asset r is rendered in now. (A record's
// lastID is the one Changes last reported it under.)
func currentID(r *record) string {
	if r.isMAC || r.mac != 0 {
		return macID(r.mac)
	}
	return idIP + r.ip.String()
}

// live returns the record an asset id renders from, nil if it is gone.
func (inv *Inventory) live(id string) *record {
	if s, ok := strings.CutPrefix(id, idMAC); ok {
		if mac, err := strconv.ParseUint(s, 16, 48); err == nil && len(s) == 12 {
			return inv.macs[mac]
		}
		return nil
	}
	if s, ok := strings.CutPrefix(id, idIP); ok {
		if ip, err := netip.ParseAddr(s); err == nil {
			if h := inv.hosts[ip]; h != nil && h.mac == 0 {
				return h
			}
		}
	}
	return nil
}

func sortAssets(as []event.Asset) {
	slices.SortFunc(as, func(a, b event.Asset) int {
		switch {
		case len(a.IPs) > 0 && len(b.IPs) > 0:
			if c := a.IPs[0].Compare(b.IPs[0]); c != 0 {
				return c
			}
		case len(a.IPs) > 0:
			return -1
		case len(b.IPs) > 0:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// render builds the asset of a MAC record (with the addresses bound to
// it) or of a lone address record.
func (inv *Inventory) render(r *record) event.Asset {
	parts := []*record{r}
	a := event.Asset{V: event.Version, Type: event.TypeAsset, ID: currentID(r)}
	if r.isMAC {
		a.MAC = macString(r.mac)
		for _, ip := range r.ips {
			if h := inv.hosts[ip]; h != nil {
				parts = append(parts, h)
			}
		}
	}
	var vlanAt time.Time
	for _, p := range parts {
		if !p.isMAC {
			a.IPs = append(a.IPs, p.ip)
		}
		if a.FirstSeen.IsZero() || (!p.first.IsZero() && p.first.Before(a.FirstSeen)) {
			a.FirstSeen = p.first
		}
		if p.last.After(a.LastSeen) {
			a.LastSeen = p.last
		}
		if p.vlan != 0 && !p.last.Before(vlanAt) {
			a.VLAN, vlanAt = p.vlan, p.last
		}
	}
	slices.SortFunc(a.IPs, netip.Addr.Compare)
	a.FirstSeen, a.LastSeen = a.FirstSeen.UTC(), a.LastSeen.UTC()

	// Attribute values of all parts, the strongest per value.
	attrs := map[event.Attr]attrValues{}
	for _, p := range parts {
		for k, vs := range p.attrs {
			cur := attrs[k]
			for _, v := range *vs {
				if i := slices.IndexFunc(cur, func(x value) bool { return x.v == v.v }); i >= 0 {
					if v.conf > cur[i].conf || (v.conf == cur[i].conf && v.ev.Time.After(cur[i].ev.Time)) {
						cur[i] = v
					}
					continue
				}
				cur = append(cur, v)
			}
			attrs[k] = cur
		}
	}
	for _, vs := range attrs {
		slices.SortFunc(vs, func(x, y value) int {
			if c := cmp.Compare(y.conf, x.conf); c != 0 {
				return c
			}
			return strings.Compare(x.v, y.v)
		})
	}
	best := func(k event.Attr) string {
		if v, ok := attrs[k].best(); ok {
			return v.v
		}
		return ""
	}
	a.Hostname = best(event.AttrHostname)
	a.Model = best(event.AttrModel)
	a.Firmware = best(event.AttrFirmware)
	a.OS = best(event.AttrOS)
	for _, v := range attrs[event.AttrSoftware] {
		a.Software = append(a.Software, v.v)
	}
	for _, v := range attrs[attrProtocol] {
		a.Protocols = append(a.Protocols, v.v)
	}
	slices.Sort(a.Protocols)

	var ev []event.Evidence
	add := func(e event.Evidence) {
		e.Time = e.Time.UTC()
		ev = append(ev, e)
	}

	// Vendor: a protocol's statement, else the IEEE registry.
	var ouiName string
	if r.isMAC {
		mb := macBytes(r.mac)
		switch oui.KindOf(mb) {
		case oui.Local:
			add(event.Evidence{Attr: event.AttrVendor, Confidence: 1, Source: "mac: locally administered address, names no vendor", Time: r.first})
		case oui.Universal:
			if inv.cfg.Vendors != nil {
				if name, ok := inv.cfg.Vendors.Lookup(mb); ok {
					ouiName = name
					add(event.Evidence{Attr: event.AttrVendor, Value: name, Confidence: ouiConfidence, Source: "oui: IEEE registry block of the MAC", Time: r.first})
				}
			}
		}
	}
	a.Vendor = ouiName
	if v, ok := attrs[event.AttrVendor].best(); ok && (ouiName == "" || v.conf >= ouiConfidence) {
		a.Vendor = v.v
	}

	// Services, peers, failed targets, weaknesses.
	var peers hashSet
	failed := 0
	var failedEv event.Evidence
	remote := 0
	var services []service
	for _, p := range parts {
		for _, s := range p.services {
			i := slices.IndexFunc(services, func(x service) bool { return x.transport == s.transport && x.port == s.port })
			if i < 0 {
				services = append(services, s)
				a.Services = append(a.Services, event.Service{Transport: s.transport, Port: s.port, Proto: s.proto, Software: s.software})
				e := s.ev
				e.Attr, e.Value, e.Confidence = attrService, serviceValue(s.transport, s.port, s.proto), 1
				add(e)
			} else if a.Services[i].Software == "" {
				a.Services[i].Software = s.software
			}
		}
		if len(parts) == 1 {
			peers = p.peers
		} else {
			for _, h := range p.peers {
				peers.add(h, inv.cfg.MaxPeers)
			}
		}
		remote += p.remote
		if n := p.failed.count(inv.now(p), inv.cfg.ScanWindow); n > failed {
			failed, failedEv = n, p.failed.ev
		}
		for _, w := range p.weak {
			i := slices.IndexFunc(a.Weaknesses, func(x event.AssetWeakness) bool {
				return x.Kind == w.Kind && x.Proto == w.Proto && x.Detail == w.Detail
			})
			if i < 0 {
				w.FirstSeen, w.LastSeen = w.FirstSeen.UTC(), w.LastSeen.UTC()
				a.Weaknesses = append(a.Weaknesses, w)
				continue
			}
			x := &a.Weaknesses[i]
			x.Count += w.Count
			if w.FirstSeen.Before(x.FirstSeen) {
				x.FirstSeen = w.FirstSeen.UTC()
			}
			if w.LastSeen.After(x.LastSeen) {
				x.LastSeen, x.Flow = w.LastSeen.UTC(), w.Flow
			}
		}
	}
	a.Peers = len(peers)
	a.TopPeers = inv.topPeers(parts)
	slices.SortFunc(a.Services, func(x, y event.Service) int {
		if c := strings.Compare(x.Transport, y.Transport); c != 0 {
			return c
		}
		return cmp.Compare(x.Port, y.Port)
	})
	slices.SortFunc(a.Weaknesses, func(x, y event.AssetWeakness) int {
		return cmp.Or(strings.Compare(string(x.Kind), string(y.Kind)), strings.Compare(x.Proto, y.Proto), strings.Compare(x.Detail, y.Detail))
	})

	// Address bindings.
	for _, p := range parts[1:] {
		e := p.bindEv
		e.Attr, e.Value, e.Confidence = attrIP, p.ip.String(), 0.95
		if !p.strong {
			e.Confidence = 0.7
		}
		add(e)
	}

	// Role.
	v := inv.view(r, attrs, &a, services, failed, remote)
	v.numEv[numFailed] = failedEv
	matches := evaluate(inv.rules, v)
	for _, x := range attrs[event.AttrRole] {
		matches = append(matches, match{score: x.conf, ev: x.ev})
	}
	slices.SortStableFunc(matches, func(x, y match) int { return cmp.Compare(y.score, x.score) })
	for i, m := range matches {
		if i >= inv.cfg.MaxValues {
			break
		}
		e := m.ev
		if m.rule == nil {
			e.Attr, e.Confidence = event.AttrRole, m.score
			if i == 0 {
				a.Role = e.Value
			}
			add(e)
			continue
		}
		src := "rule " + m.rule.ID + ": " + m.rule.Reason
		if e.Source != "" {
			src += "; from " + e.Source
		}
		e.Attr, e.Value, e.Confidence, e.Source = event.AttrRole, m.rule.Role, round(m.score), src
		if e.Time.IsZero() {
			e.Time = a.LastSeen
		}
		if i == 0 {
			a.Role = m.rule.Role
		}
		add(e)
	}

	// Every attribute value with its evidence, the strongest first.
	for k, vs := range attrs {
		if k == event.AttrRole {
			continue
		}
		for i, x := range vs {
			if i >= inv.cfg.MaxValues {
				break
			}
			e := x.ev
			e.Attr, e.Value, e.Confidence = k, x.v, x.conf
			add(e)
		}
	}
	slices.SortStableFunc(ev, func(x, y event.Evidence) int {
		return cmp.Or(strings.Compare(string(x.Attr), string(y.Attr)), cmp.Compare(y.Confidence, x.Confidence),
			strings.Compare(x.Value, y.Value), strings.Compare(x.Source, y.Source))
	})
	a.Evidence = ev
	return a
}

// now is the time scan windows are judged at: the latest time the
// inventory has seen (capture time, not the wall clock, so that a capture
// read today gives the answers it gave yesterday), or r's last sighting.
func (inv *Inventory) now(r *record) time.Time {
	if inv.latest.After(r.last) {
		return inv.latest
	}
	return r.last
}

func serviceValue(transport string, port uint16, proto string) string {
	s := transport + "/" + strconv.Itoa(int(port))
	if proto != "" {
		s += " " + proto
	}
	return s
}

func round(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 3, 64), 64)
	return v
}

// view assembles what the rules see of a device.
func (inv *Inventory) view(r *record, attrs map[event.Attr]attrValues, a *event.Asset, services []service, failed, remote int) *view {
	v := &view{values: make(map[string][]viewValue, len(attrs)+4), nums: map[string]int{}, numEv: map[string]event.Evidence{}}
	for k, vs := range attrs {
		out := make([]viewValue, 0, len(vs))
		for _, x := range vs {
			out = append(out, viewValue{value: x.v, lower: strings.ToLower(x.v), conf: x.conf, ev: x.ev})
		}
		v.values[string(k)] = out
	}
	if p := attrs[attrProtocol]; len(p) > 0 {
		v.values[pseudoProtocol] = v.values[string(attrProtocol)]
	}
	for _, s := range services {
		port := s.transport + "/" + strconv.Itoa(int(s.port))
		e := s.ev
		e.Source = "service " + serviceValue(s.transport, s.port, s.proto) + " seen in " + e.Source
		v.values[pseudoServicePort] = append(v.values[pseudoServicePort], viewValue{value: port, lower: port, conf: 1, ev: e})
		if s.proto != "" {
			v.values[pseudoServiceProto] = append(v.values[pseudoServiceProto], viewValue{value: s.proto, lower: strings.ToLower(s.proto), conf: 1, ev: e})
		}
	}
	if r.isMAC && r.router {
		e := r.routerEv
		e.Source = "router: " + r.routerWhy
		v.values[pseudoGateway] = []viewValue{{value: "true", lower: "true", conf: 1, ev: e}}
	}
	if a.Vendor != "" {
		v.values[pseudoVendor] = []viewValue{{value: a.Vendor, lower: strings.ToLower(a.Vendor), conf: ouiConfidence}}
	}
	v.nums[numPeers] = a.Peers
	v.nums[numRemotePeers] = remote
	v.nums[numServices] = len(a.Services)
	v.nums[numFailed] = failed
	if r.isMAC {
		v.nums[numARPUnanswered] = inv.arpUnanswered(r, inv.now(r))
		v.numEv[numARPUnanswered] = r.arpEv
	}
	return v
}

// String helps debugging and test failures.
func (s Stats) String() string {
	return fmt.Sprintf("%d hosts, %d MACs, %d routers, %d moves, %d evicted", s.Hosts, s.MACs, s.Routers, s.Moves, s.Evicted)
}

// topPeers merges the busiest peers of an asset's records and lists the
// MaxTopPeers with most bytes (then most flows), naming the peers the
// inventory knows as devices.
func (inv *Inventory) topPeers(parts []*record) []event.Peer {
	var all record
	for _, p := range parts {
		for _, t := range p.top {
			all.notePeer(t, inv.cfg.MaxTopPeers*len(parts))
		}
	}
	if len(all.top) == 0 {
		return nil
	}
	slices.SortFunc(all.top, func(x, y peerStat) int {
		return cmp.Or(cmp.Compare(y.bytes, x.bytes), cmp.Compare(y.flows, x.flows), x.ip.Compare(y.ip))
	})
	out := make([]event.Peer, 0, min(len(all.top), inv.cfg.MaxTopPeers))
	for _, t := range all.top[:min(len(all.top), inv.cfg.MaxTopPeers)] {
		p := event.Peer{IP: t.ip, Protocols: slices.Sorted(slices.Values(t.protos)), Flows: t.flows, Bytes: t.bytes, LastSeen: t.last.UTC()}
		if h := inv.hosts[t.ip]; h != nil && !h.gone {
			p.Asset = currentID(h)
		}
		out = append(out, p)
	}
	return out
}
