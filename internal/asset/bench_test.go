package asset

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// synthetic traffic: 1,000 devices of a /16 talking to 20 servers.
func syntheticFlows(n int) ([]*proto.Conn, []*event.Flow, []*event.Observation) {
	conns := make([]*proto.Conn, n)
	flows := make([]*event.Flow, n)
	obs := make([]*event.Observation, n)
	for i := 0; i < n; i++ {
		c := event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 20, byte(i % 1000 / 250), byte(i % 250)}), Port: uint16(30000 + i%30000),
			MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i%1000/250, i%250)}
		s := event.Endpoint{IP: netip.AddrFrom4([4]byte{10, 20, 9, byte(i % 20)}), Port: 4242, MAC: fmt.Sprintf("00:1c:23:00:00:%02x", i%20)}
		id := fmt.Sprintf("%016x", i)
		conns[i] = &proto.Conn{ID: id, Transport: proto.TCP, Client: c, Server: s, Proto: "dicom"}
		f := &event.Flow{ID: id, Transport: "tcp", Client: c, Server: s, Proto: "dicom", ClientTCP: "SAPF", ServerTCP: "SAPF"}
		f.Counts[0] = event.Counts{Packets: 10, Bytes: 4000, PayloadBytes: 3000}
		f.Counts[1] = event.Counts{Packets: 8, Bytes: 1000, PayloadBytes: 500}
		flows[i] = f
		obs[i] = &event.Observation{Flow: id, Src: c, Dst: s, Transport: "tcp", Proto: "dicom", Kind: "associate-rq",
			Facts: []event.Fact{
				{About: event.AboutSrc, Attr: event.AttrClient, Value: "dicom", Confidence: 0.9},
				{About: event.AboutSrc, Attr: event.AttrClient, Value: "dicom:c-store", Confidence: 0.9},
				{About: event.AboutSrc, Attr: event.AttrSoftware, Value: "OFFIS_DCMTK_367", Confidence: 0.9},
				{About: event.AboutDst, Attr: event.AttrAETitle, Value: "PACS", Confidence: 0.9},
			},
			Weaknesses: []event.Weakness{{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: "patient attributes in C-STORE-RQ data set"}}}
	}
	return conns, flows, obs
}

// BenchmarkFlow measures flow starts and records into a warm inventory.
func BenchmarkFlow(b *testing.B) {
	conns, flows, _ := syntheticFlows(4096)
	inv := newInv(b, Config{})
	for i := range flows {
		inv.FlowStart(conns[i], t0)
		inv.Flow(flows[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(flows)
		ts := at(i / 1000)
		flows[k].Start, flows[k].End = ts, ts
		inv.FlowStart(conns[k], ts)
		inv.Flow(flows[k])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkObserve measures observations (four facts, one weakness) into
// a warm inventory.
func BenchmarkObserve(b *testing.B) {
	conns, flows, obs := syntheticFlows(4096)
	inv := newInv(b, Config{})
	for i := range flows {
		inv.FlowStart(conns[i], t0)
		inv.Observe(obs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := obs[i%len(obs)]
		o.Time = at(i / 1000)
		inv.Observe(o)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
}

// BenchmarkLabReplay replays everything the lab capture produced (its
// observations, flows and ARP) into a fresh inventory per iteration.
func BenchmarkLabReplay(b *testing.B) {
	pcap := testenv.DataFile(b, "pcap/lab/medlab-dev.pcap")
	rec := &sensortest.Recorder{}
	var events []func(*Inventory)
	tee := &teeOutput{rec: rec, add: func(f func(*Inventory)) { events = append(events, f) }}
	runCaptureTo(b, tee, pcap)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv := newInv(b, Config{})
		for _, e := range events {
			e(inv)
		}
		_ = inv.Assets()
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

// teeOutput records the sensor's output as calls to replay.
type teeOutput struct {
	rec *sensortest.Recorder
	add func(func(*Inventory))
}

func (t *teeOutput) Observe(o *event.Observation) { t.add(func(inv *Inventory) { inv.Observe(o) }) }
func (t *teeOutput) FlowStart(c *proto.Conn, ts time.Time) {
	cc := *c
	t.add(func(inv *Inventory) { inv.FlowStart(&cc, ts) })
}
func (t *teeOutput) Flow(f *event.Flow) { t.add(func(inv *Inventory) { inv.Flow(f) }) }
func (t *teeOutput) ARP(a *sensor.ARP) {
	aa := *a
	t.add(func(inv *Inventory) { inv.ARP(&aa) })
}
