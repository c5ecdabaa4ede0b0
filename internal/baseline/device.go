package baseline

import (
	"math"
	"net/netip"
)

// channel is one service a device uses or offers, with the numeric
// features of its flows.
type channel struct {
	proto string // the protocol first seen on it, for the alert's text
	// sent and recv are the bytes the device sent and received per flow;
	// gap is the time between the starts of its flows (ms).
	sent, recv, gap robust
	lastStart       int64 // ns
}

// Window counters of a device.
const (
	wFlowsOut = iota // flows it opened (as client)
	wFlowsIn         // flows opened to it (as server)
	wBytesOut        // bytes it sent
	wBytesIn         // bytes it received
	numWin
)

var winNames = [numWin]string{"flows opened per window", "flows received per window", "bytes sent per window", "bytes received per window"}

// device is the baseline of one address.
type device struct {
	addr  netip.Addr
	mac   string
	first int64 // ns, capture time
	last  int64
	// learnFrom is when its learning started (the network's start, or its
	// own first packet if it came later); learnUntil when it may end.
	learnFrom, learnUntil int64
	learning              bool
	// learnedAt is when its learning ended (0 while it learns); cur says
	// whether the event being applied belongs to the learning period.
	learnedAt int64
	cur       bool
	flows     uint64
	served    bool // has answered a flow as its server
	hub       bool // had more peers than MaxPeers while learning

	peers    catSet[struct{}]
	services catSet[channel]
	kinds    catSet[struct{}]
	macs     catSet[struct{}]

	win    int64 // index of the window in progress
	counts [numWin]uint64
	// records counts the flow records that sent and received bytes in
	// the window in progress.
	records [2]uint32
	// shifted: a numeric feature just took a lasting change as its new
	// level (the alert says so).
	shifted bool
	wstat   [numWin]robust
	// wlim are the counts above which the window in progress may be
	// anomalous (+Inf while a feature cannot score): the hot path checks
	// a counter against its limit and does the exact test only past it.
	wlim [numWin]float64

	inc [numKinds]*incident

	prev, next *device // its LRU list, most recent first
	list       *dlist
}

// setLimits computes the window limits for the window in progress.
func (d *device) setLimits(p *params) {
	for i := range d.wstat {
		if d.learning {
			d.wlim[i] = math.Inf(1)
			continue
		}
		d.wlim[i] = unlog(d.wstat[i].limit(p))
	}
}

// hasOpen says whether any of its incidents is open.
func (d *device) hasOpen() bool {
	for _, in := range d.inc {
		if in != nil && in.Open() {
			return true
		}
	}
	return false
}
