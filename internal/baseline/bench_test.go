package baseline

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/testenv"
)

type discard struct{ alerts int }

func (d *discard) Alert(*event.Alert)     { d.alerts++ }
func (d *discard) Finding(*event.Finding) {}

// learntBench returns a baseline that has learnt a ward (for benchmarks).
func learntBench(b *testing.B) (*Baseline, time.Time) {
	bl, err := New(wardConfig(), &discard{})
	if err != nil {
		b.Fatal(err)
	}
	w := newWard(bl)
	return bl, w.run(t0, t0.Add(7*time.Hour))
}

// BenchmarkFlow: the steady state of a learnt device — a flow start and
// its record (peers, services, sizes, rhythm, window counts) for a pump
// publishing to its broker, both devices learnt.
func BenchmarkFlow(b *testing.B) {
	bl, now := learntBench(b)
	c := &proto.Conn{ID: "f", Transport: proto.TCP, Client: event.Endpoint{IP: netip.MustParseAddr(pump), Port: 40000, MAC: macOf(pump)},
		Server: event.Endpoint{IP: netip.MustParseAddr(broker), Port: 1883, MAC: macOf(broker)}}
	f := &event.Flow{ID: "f", Transport: "tcp", Client: c.Client, Server: c.Server, Proto: "mqtt", ClientTCP: "SAPF", ServerTCP: "SAPF"}
	f.Counts[0] = event.Counts{Packets: 4, Bytes: 600, PayloadBytes: 500}
	f.Counts[1] = event.Counts{Packets: 3, Bytes: 120, PayloadBytes: 60}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(30 * time.Second)
		bl.FlowStart(c, now)
		f.Start, f.End = now, now.Add(50*time.Millisecond)
		f.Counts[0].Bytes = 550 + uint64(i%100)
		bl.Flow(f)
	}
}

// BenchmarkObserve: a message of a learnt kind between learnt devices.
func BenchmarkObserve(b *testing.B) {
	bl, now := learntBench(b)
	o := &event.Observation{Flow: "o", Src: event.Endpoint{IP: netip.MustParseAddr(his), Port: 40000},
		Dst: event.Endpoint{IP: netip.MustParseAddr(engine), Port: 2575}, Transport: "tcp", Proto: "hl7", Kind: "message",
		Detail: hl7msg("ADT^A01")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(time.Second)
		o.Time = now
		bl.Observe(o)
	}
}

type discardOutput struct{}

func (discardOutput) Observe(*event.Observation)       {}
func (discardOutput) FlowStart(*proto.Conn, time.Time) {}
func (discardOutput) Flow(*event.Flow)                 {}
func (discardOutput) ARP(*sensor.ARP)                  {}

// BenchmarkLabReplay runs the lab capture (in memory, looped and shifted
// in time) through the sensor alone (the reference) and through the
// sensor with the baseline, per packet: the ratio is the baseline's cost.
func BenchmarkLabReplay(b *testing.B) {
	path := testenv.DataFile(b, "pcap/lab/medlab-dev.pcap")
	pkts, err := capture.ReadFiles(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	shift := pkts[len(pkts)-1].Time.Sub(pkts[0].Time) + 10*time.Minute
	for _, with := range []bool{false, true} {
		name := "sensor"
		if with {
			name = "sensor+baseline"
		}
		b.Run(name, func(b *testing.B) {
			var out sensor.Output = discardOutput{}
			if with {
				bl, err := New(Config{LearnFor: time.Minute, LearnFlows: 1, Window: time.Second}, &discard{})
				if err != nil {
					b.Fatal(err)
				}
				out = bl
			}
			s := sensor.New(sensor.Config{Flow: flow.DefaultConfig}, registry.All(registry.Options{Defaults: credential.Defaults()}), out)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loop, k := i/len(pkts), i%len(pkts)
				p := pkts[k]
				p.Time = p.Time.Add(time.Duration(loop) * shift)
				s.Packet(&p)
			}
		})
	}
}
