package detect

import (
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// The DICOM exfiltration detector follows query/retrieve (C-FIND, C-GET,
// C-MOVE) per archive and peer. A peer that has queried an archive before
// (or during the learning period, or listed in known_peers) is usual; a
// new peer that receives patient matches and instances — min_records of
// them, or any after a universal-match patient query ("PatientName=*", a
// request for every patient) — raises an alert. When the alert ends, the
// peer is learnt: one alert per new peer, not one per session.

type qrKey struct{ server, peer netip.Addr }

type qrSession struct {
	queries, matches, instances uint64
	wildcard                    bool
	levels                      string
	last                        int64
	inc                         *incident
	flows                       map[string]uint64 // C-MOVE flow → completed sub-operations
}

type exfilState struct {
	start    time.Time
	known    map[netip.Addr]map[netip.Addr]struct{}
	sessions map[qrKey]*qrSession
	ae       map[string]string // flow → calling AE title (bounded)
	get      struct {
		level, wildcards, statusClass, dataSet, subOp, completed, callingAE getter
	}
}

const (
	maxKnownPeers = 256
	maxAETitles   = 4096
)

func (s *exfilState) init() {
	s.known = map[netip.Addr]map[netip.Addr]struct{}{}
	s.sessions = map[qrKey]*qrSession{}
	s.ae = map[string]string{}
	g := func(p string) getter { f, _ := compileField(OnObservation, p); return f }
	s.get.level = g("detail.query_level")
	s.get.wildcards = g("detail.wildcards.keyword")
	s.get.statusClass = g("detail.status_class")
	s.get.dataSet = g("detail.data_set")
	s.get.subOp = g("detail.sub_operation")
	s.get.completed = g("detail.suboperations_completed")
	s.get.callingAE = g("detail.calling_ae")
}

func (s *exfilState) isKnown(server, peer netip.Addr) bool {
	_, ok := s.known[server][peer]
	return ok
}

func (e *Engine) learnPeer(server, peer netip.Addr) {
	s := &e.exfil
	m := s.known[server]
	if m == nil {
		if len(s.known) >= e.lim.MaxSessions {
			e.stats.SessionsFull++
			return
		}
		m = map[netip.Addr]struct{}{}
		s.known[server] = m
	}
	if len(m) < maxKnownPeers {
		m[peer] = struct{}{}
	}
}

func (e *Engine) exfilObserve(o *event.Observation, c *evctx) {
	r := e.cur.exfil
	if r == nil {
		return
	}
	s := &e.exfil
	if s.start.IsZero() {
		s.start = o.Time
	}
	switch o.Kind {
	case "associate-rq":
		if len(s.ae) >= maxAETitles {
			clear(s.ae)
		}
		if ae := s.get.callingAE(c); ae.k == vStr {
			s.ae[o.Flow] = ae.s
		}
		return
	case "association-summary":
		delete(s.ae, o.Flow)
		return
	}
	var server, peer netip.Addr
	toServer := o.Dir == event.ToServer
	if toServer {
		server, peer = o.Dst.IP, o.Src.IP
	} else {
		server, peer = o.Src.IP, o.Dst.IP
	}
	var sess *qrSession
	key := qrKey{server, peer}
	switch o.Kind {
	case "c-find-rq", "c-get-rq", "c-move-rq":
		if !toServer {
			return
		}
		if o.Time.Sub(s.start) < r.params.dur("learn") || inPrefixes(r.params.cidrs("known_peers"), peer) {
			e.learnPeer(server, peer)
			return
		}
		if s.isKnown(server, peer) {
			return
		}
		sess = e.qrSession(key)
		if sess == nil {
			return
		}
		sess.queries++
		lvl := s.get.level(c)
		wild := s.get.wildcards(c)
		if lvl.present() {
			if sess.levels == "" {
				sess.levels = lvl.text()
			}
			if (lvl.text() == "PATIENT" || lvl.text() == "STUDY") && wild.present() {
				for _, w := range asList(wild) {
					if w.text() == "PatientName" || w.text() == "PatientID" {
						sess.wildcard = true
					}
				}
			}
		}
	case "c-find-rsp":
		if toServer || s.isKnown(server, peer) {
			return
		}
		if sess = s.sessions[key]; sess == nil {
			return
		}
		st, ds := s.get.statusClass(c), s.get.dataSet(c)
		if st.text() != "pending" || !(ds.k == vBool && ds.b) {
			return
		}
		sess.matches++
	case "c-store-rq":
		// A C-GET delivery: the archive sends the instance back on the
		// association the peer opened.
		sub := s.get.subOp(c)
		if toServer || !(sub.k == vBool && sub.b) || s.isKnown(server, peer) {
			return
		}
		if sess = s.sessions[key]; sess == nil {
			return
		}
		sess.instances++
	case "c-move-rsp":
		// C-MOVE sends instances over another association: count what
		// the archive says it completed.
		if toServer || s.isKnown(server, peer) {
			return
		}
		if sess = s.sessions[key]; sess == nil {
			return
		}
		n, ok := number(s.get.completed(c))
		if !ok {
			return
		}
		if sess.flows == nil {
			sess.flows = map[string]uint64{}
		}
		if prev := sess.flows[o.Flow]; uint64(n) > prev && len(sess.flows) < 64 {
			sess.instances += uint64(n) - prev
			sess.flows[o.Flow] = uint64(n)
		}
	default:
		return
	}
	sess.last = o.Time.UnixNano()
	e.exfilCheck(r, key, sess, o)
}

func asList(v value) []value {
	if v.k == vList {
		return v.l
	}
	return []value{v}
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (e *Engine) qrSession(key qrKey) *qrSession {
	s := &e.exfil
	if sess := s.sessions[key]; sess != nil {
		return sess
	}
	if len(s.sessions) >= e.lim.MaxSessions {
		// Forget sessions idle for a day before giving up.
		cut := e.now.Add(-24 * time.Hour).UnixNano()
		for k, x := range s.sessions {
			if x.last < cut && x.inc == nil {
				delete(s.sessions, k)
			}
		}
		if len(s.sessions) >= e.lim.MaxSessions {
			e.stats.SessionsFull++
			return nil
		}
	}
	sess := &qrSession{}
	s.sessions[key] = sess
	return sess
}

// exfilCheck opens or updates the alert of a session.
func (e *Engine) exfilCheck(r *rule, key qrKey, sess *qrSession, o *event.Observation) {
	records := sess.matches + sess.instances
	inc := sess.inc
	if inc == nil {
		if !(records >= uint64(r.params.int("min_records")) || (sess.wildcard && records > 0)) {
			return
		}
		peer := o.Src
		if o.Dir == event.ToClient {
			peer = o.Dst
		}
		inc = newIncident(r, key.server.String()+"|"+key.peer.String(), o.Time, event.Endpoint{IP: peer.IP, MAC: peer.MAC})
		srv := o.Dst
		if o.Dir == event.ToClient {
			srv = o.Src
		}
		inc.addTarget(event.Endpoint{IP: srv.IP, Port: srv.Port, MAC: srv.MAC})
		inc.proto = "dicom"
		if sess.wildcard {
			inc.addSample("wildcard", "patient-level universal match")
		}
		if sess.levels != "" {
			inc.addSample("query_level", sess.levels)
		}
		inc.onFinal = func(*incident) {
			// Once reported, the peer is usual for this archive.
			e.learnPeer(key.server, key.peer)
			delete(e.exfil.sessions, key)
		}
		e.exfilFill(inc, sess, o, records)
		if !e.openIncident(inc) {
			return
		}
		sess.inc = inc
		return
	}
	inc.hit(o.Time)
	e.exfilFill(inc, sess, o, records)
}

func (e *Engine) exfilFill(inc *incident, sess *qrSession, o *event.Observation, records uint64) {
	inc.count = records
	inc.setCount("queries", sess.queries)
	inc.setCount("matches", sess.matches)
	inc.setCount("instances", sess.instances)
	if ae := e.exfil.ae[o.Flow]; ae != "" {
		inc.addSample("calling_ae", ae)
	}
	if inc.nEv < maxEvidence {
		inc.addEvidence(event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: o.Proto + "/" + o.Kind})
	}
}
