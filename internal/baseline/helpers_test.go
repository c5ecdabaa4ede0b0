package baseline

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/hl7"
	"github.com/heir-emd/heir/internal/proto/mqtt"
)

var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// recorder is a Sink that keeps every emission in order and the latest
// version of each alert.
type recorder struct {
	all    []event.Alert
	latest map[string]*event.Alert
	order  []string
}

func newRecorder() *recorder { return &recorder{latest: map[string]*event.Alert{}} }

func (r *recorder) Alert(a *event.Alert) {
	r.all = append(r.all, *a)
	if _, ok := r.latest[a.ID]; !ok {
		r.order = append(r.order, a.ID)
	}
	r.latest[a.ID] = a
}

func (r *recorder) Finding(*event.Finding) {}

// alerts returns the latest version of each alert in order of opening,
// optionally only those of a rule and device.
func (r *recorder) alerts(rule, dev string) []event.Alert {
	var out []event.Alert
	for _, id := range r.order {
		a := r.latest[id]
		if (rule == "" || a.Rule == rule) && (dev == "" || a.Source.IP.String() == dev) {
			out = append(out, *a)
		}
	}
	return out
}

func (r *recorder) dump(t *testing.T) {
	t.Helper()
	for _, a := range r.alerts("", "") {
		t.Logf("%-20s %-10s %-6s %s score %g: %s", a.Rule, a.Source.IP, a.Severity, a.Start.Format("Jan 2 15:04:05"), a.Score, a.Description)
	}
}

func newBaseline(t testing.TB, cfg Config) (*Baseline, *recorder) {
	t.Helper()
	rec := newRecorder()
	b, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	return b, rec
}

// lan builds synthetic traffic: flows as the flow engine reports them
// (FlowStart when the flow starts, the record when it ends) and
// dissector observations.
type lan struct {
	b   *Baseline
	seq int
}

type flowSpec struct {
	client, server string
	cport, sport   uint16
	transport      string
	proto          string
	sent, recv     uint64 // bytes client→server, server→client
	dur            time.Duration
	refused        bool // the server answered with a RST
	silent         bool // the server never answered
}

func (n *lan) flow(t time.Time, s flowSpec) *event.Flow {
	n.seq++
	if s.transport == "" {
		s.transport = "tcp"
	}
	if s.dur == 0 {
		s.dur = 50 * time.Millisecond
	}
	if s.cport == 0 {
		s.cport = uint16(40000 + n.seq%20000)
	}
	c := event.Endpoint{IP: netip.MustParseAddr(s.client), Port: s.cport, MAC: macOf(s.client)}
	sv := event.Endpoint{IP: netip.MustParseAddr(s.server), Port: s.sport, MAC: macOf(s.server)}
	id := fmt.Sprintf("f%06d", n.seq)
	tr := proto.TCP
	if s.transport == "udp" {
		tr = proto.UDP
	}
	n.b.FlowStart(&proto.Conn{ID: id, Transport: tr, Client: c, Server: sv, Proto: s.proto}, t)
	f := &event.Flow{V: 1, Type: event.TypeFlow, ID: id, Start: t, End: t.Add(s.dur), Transport: s.transport,
		Client: c, Server: sv, Proto: s.proto, Reason: "fin"}
	f.Counts[0] = event.Counts{Packets: 1 + s.sent/1400, Bytes: s.sent, PayloadBytes: s.sent * 9 / 10}
	switch {
	case s.silent:
		f.Counts[1] = event.Counts{}
	case s.refused:
		f.Counts[1] = event.Counts{Packets: 1, Bytes: 54}
		f.ServerTCP = "R"
	default:
		f.Counts[1] = event.Counts{Packets: 1 + s.recv/1400, Bytes: s.recv, PayloadBytes: s.recv * 9 / 10}
		f.ClientTCP, f.ServerTCP = "SAPF", "SAPF"
	}
	n.b.Flow(f)
	return f
}

// macOf gives each synthetic address a stable MAC.
func macOf(ip string) string {
	a := netip.MustParseAddr(ip).As4()
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
}

func (n *lan) obs(t time.Time, src, dst string, sport, dport uint16, protocol, kind string, detail any) {
	n.b.Observe(&event.Observation{V: 1, Type: event.TypeObservation, Time: t, Flow: "o",
		Src: event.Endpoint{IP: netip.MustParseAddr(src), Port: sport}, Dst: event.Endpoint{IP: netip.MustParseAddr(dst), Port: dport},
		Dir: event.ToServer, Transport: "tcp", Proto: protocol, Kind: kind, Detail: detail})
}

func hl7msg(typ string) *hl7.Detail { return &hl7.Detail{MessageType: typ} }

func publish(topic string) *mqtt.Publish { return &mqtt.Publish{Topic: topic} }

// medianOf and madOf are the test's own robust statistics, to check the
// baseline's scores against.
func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func madOf(v []float64) float64 {
	m := medianOf(v)
	d := make([]float64, len(v))
	for i, x := range v {
		d[i] = math.Abs(x - m)
	}
	return medianOf(d)
}

func hasValue(a event.Alert, v string) bool {
	for _, x := range strings.Split(a.Samples["new_values"], ", ") {
		if x == v {
			return true
		}
	}
	return false
}
