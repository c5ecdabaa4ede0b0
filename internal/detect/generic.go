package detect

import (
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// nBuckets divides a rule's window into a sliding ring of counters.
const nBuckets = 10

// ruleState is what a field rule keeps: one group per group_by key.
type ruleState struct {
	r      *rule
	groups map[string]*group
}

// group counts one group's events over the rule's window, and carries the
// incident it will become (targets, samples and evidence from its first
// event on) until the threshold is reached.
type group struct {
	first, last time.Time
	head        int64 // bucket index of the newest bucket
	counts      [nBuckets]uint32
	sums        [][nBuckets]float64
	distinct    []map[string]int64 // value → last seen (unix ns)
	inc         *incident
}

func newRuleState(r *rule) *ruleState {
	return &ruleState{r: r, groups: map[string]*group{}}
}

func (r *rule) width() int64 {
	w := int64(r.window) / nBuckets
	if w <= 0 {
		w = 1
	}
	return w
}

// advance moves g's ring to the bucket of time t, clearing buckets that
// fell out of the window.
func (g *group) advance(r *rule, t time.Time) int {
	idx := t.UnixNano() / r.width()
	if g.head == 0 && g.last.IsZero() {
		g.head = idx
	}
	if idx > g.head {
		steps := idx - g.head
		if steps > nBuckets {
			steps = nBuckets
		}
		for i := int64(1); i <= steps; i++ {
			b := int((g.head + i) % nBuckets)
			g.counts[b] = 0
			for s := range g.sums {
				g.sums[s][b] = 0
			}
		}
		g.head = idx
	}
	// An event older than the ring (out of order by more than the window)
	// counts in the oldest bucket.
	if idx < g.head-nBuckets+1 {
		idx = g.head - nBuckets + 1
	}
	return int(((idx % nBuckets) + nBuckets) % nBuckets)
}

func (g *group) windowCount() uint64 {
	var n uint64
	for _, c := range g.counts {
		n += uint64(c)
	}
	return n
}

func (g *group) windowSum(s int) float64 {
	var n float64
	for _, c := range g.sums[s] {
		n += c
	}
	return n
}

// liveDistinct counts the values of spec s seen within the window before t.
func (g *group) liveDistinct(s int, r *rule, t time.Time) int {
	cut := t.Add(-r.window).UnixNano()
	n := 0
	for _, seen := range g.distinct[s] {
		if seen >= cut {
			n++
		}
	}
	return n
}

// observe feeds one event that passed the rule's where to the rule.
func (e *Engine) ruleEvent(st *ruleState, c *evctx) {
	r := st.r
	if c.obs != nil && (r.protos != nil && !slices.Contains(r.protos, c.obs.Proto) || r.kinds != nil && !slices.Contains(r.kinds, c.obs.Kind)) {
		return
	}
	if !r.where.match(c) {
		return
	}
	e.stats.RuleMatches++
	// Group key.
	e.keybuf = e.keybuf[:0]
	for i, f := range r.groupBy {
		if i > 0 {
			e.keybuf = append(e.keybuf, 0)
		}
		e.keybuf = f.get(c).appendText(e.keybuf)
	}
	g := st.groups[string(e.keybuf)]
	if g == nil {
		if len(st.groups) >= e.lim.MaxGroups {
			e.expireGroups(st, c.t)
			if len(st.groups) >= e.lim.MaxGroups {
				e.stats.GroupsFull++
				return
			}
		}
		key := string(e.keybuf)
		g = &group{first: c.t, sums: make([][nBuckets]float64, len(r.sums)), distinct: make([]map[string]int64, len(r.distinct))}
		for i := range g.distinct {
			g.distinct[i] = map[string]int64{}
		}
		src := event.Endpoint{}
		if ep := r.source.pick(c); ep != nil {
			src = event.Endpoint{IP: ep.IP, MAC: ep.MAC}
		}
		g.inc = newIncident(r, key, c.t, src)
		g.inc.onFinal = func(*incident) {
			// The next burst starts from nothing.
			if st.groups[key] == g {
				delete(st.groups, key)
			}
		}
		st.groups[key] = g
	}
	b := g.advance(r, c.t)
	if g.last.IsZero() || c.t.Sub(g.last) > r.window {
		g.first = c.t
	}
	if c.t.After(g.last) {
		g.last = c.t
	}
	g.counts[b]++
	for i, s := range r.sums {
		v := s.field.get(c)
		if x, ok := number(v); ok && x > 0 {
			g.sums[i][b] += x
		}
	}
	ns := c.t.UnixNano()
	for i, d := range r.distinct {
		e.distinctAdd(g.distinct[i], d, c, ns, r, c.t)
	}
	inc := g.inc
	e.recordEvent(inc, r, c)
	for _, s := range r.sums {
		if x, ok := number(s.field.get(c)); ok && x > 0 {
			inc.addCount(s.as, uint64(x))
		}
	}
	if inc.Open() {
		for i, d := range r.distinct {
			inc.setCount(d.as, uint64(max(len(g.distinct[i]), int(inc.getCount(d.as)))))
		}
		return
	}
	// Below the threshold?
	if int(g.windowCount()) < r.count {
		return
	}
	for i, d := range r.distinct {
		if g.liveDistinct(i, r, c.t) < d.min {
			return
		}
	}
	for i, s := range r.sums {
		if g.windowSum(i) < s.min {
			return
		}
	}
	// The incident opens with what the window holds.
	inc.count = g.windowCount()
	if start := c.t.Add(-r.window); inc.start.Before(start) {
		inc.start = start
	}
	if inc.start.Before(g.first) {
		inc.start = g.first
	}
	for i, d := range r.distinct {
		inc.setCount(d.as, uint64(g.liveDistinct(i, r, c.t)))
	}
	for i, s := range r.sums {
		inc.setCount(s.as, uint64(g.windowSum(i)))
	}
	e.openIncident(inc)
}

// recordEvent adds an event's target, samples and evidence to inc.
func (e *Engine) recordEvent(inc *incident, r *rule, c *evctx) {
	inc.hit(c.t)
	if ep := r.target.pick(c); ep != nil {
		t := event.Endpoint{IP: ep.IP, MAC: ep.MAC}
		if targetIsServer(r.target.name, c) {
			t.Port = ep.Port
		}
		inc.addTarget(t)
	}
	if inc.proto == "" && r.protoField != nil {
		inc.proto = r.protoField(c).text()
	}
	for _, s := range r.samples {
		v := s.get(c)
		if v.k == vList {
			for _, x := range v.l {
				inc.addSample(s.name, x.text())
			}
		} else {
			inc.addSample(s.name, v.text())
		}
	}
	if inc.nEv < maxEvidence {
		inc.addEvidence(reference(c))
	}
}

// targetIsServer says whether the endpoint named name is the server side
// of the event's conversation (its port names the service).
func targetIsServer(name string, c *evctx) bool {
	switch {
	case c.obs != nil:
		return (name == "dst" && c.obs.Dir == event.ToServer) || (name == "src" && c.obs.Dir == event.ToClient)
	case c.flow != nil, c.conn != nil:
		return name == "server"
	}
	return false
}

// reference points at the event.
func reference(c *evctx) event.Reference {
	switch {
	case c.obs != nil:
		return event.Reference{Flow: c.obs.Flow, Frame: c.obs.Frame, Time: c.obs.Time, What: c.obs.Proto + "/" + c.obs.Kind}
	case c.flow != nil:
		return event.Reference{Flow: c.flow.ID, Time: c.flow.Start, What: "flow"}
	case c.conn != nil:
		return event.Reference{Flow: c.conn.ID, Time: c.t, What: "flow-start"}
	case c.arp != nil:
		return event.Reference{Frame: c.arp.Frame, Time: c.arp.Time, What: "arp"}
	}
	return event.Reference{Time: c.t}
}

// distinctAdd records the value(s) of a distinct spec.
func (e *Engine) distinctAdd(m map[string]int64, d distinctSpec, c *evctx, ns int64, r *rule, t time.Time) {
	add := func(k string) {
		if _, ok := m[k]; !ok && len(m) >= maxDistinct {
			cut := t.Add(-r.window).UnixNano()
			for x, seen := range m {
				if seen < cut {
					delete(m, x)
				}
			}
			if len(m) >= maxDistinct {
				return
			}
		}
		m[k] = ns
	}
	if len(d.fields) == 1 {
		v := d.fields[0].get(c)
		switch {
		case v.k == vList:
			for _, x := range v.l {
				add(x.text())
			}
		case v.present():
			add(v.text())
		}
		return
	}
	e.keybuf2 = e.keybuf2[:0]
	for i, f := range d.fields {
		if i > 0 {
			e.keybuf2 = append(e.keybuf2, 0)
		}
		e.keybuf2 = f.get(c).appendText(e.keybuf2)
	}
	add(string(e.keybuf2))
}

// expireGroups drops groups with no event within their window and no open
// incident.
func (e *Engine) expireGroups(st *ruleState, now time.Time) {
	for k, g := range st.groups {
		if !g.inc.Open() && now.Sub(g.last) > st.r.window {
			delete(st.groups, k)
		}
	}
}
