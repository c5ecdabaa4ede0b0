package detect

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
)

// dissectors returns heir's dissectors with the HTTP one given the
// engine's request inspector, as the command line wires them.
func dissectors(e *Engine) []proto.Dissector {
	creds := credential.Defaults()
	ds := registry.All(registry.Options{Defaults: creds})
	for i, d := range ds {
		if d.Name() == "http" {
			ds[i] = httpproto.New(creds, httpproto.WithInspector(e.Inspector()))
		}
	}
	return ds
}

// runCapture runs captures through the sensor with the engine as output
// and packet observer, then flushes it.
func runCapture(t testing.TB, e *Engine, paths ...string) sensor.Stats {
	t.Helper()
	src, err := capture.OpenFiles(paths)
	if err != nil {
		t.Fatalf("open %v: %v", paths, err)
	}
	defer src.Close()
	cfg := sensor.Config{Flow: flow.DefaultConfig, Packets: e}
	s := sensor.New(cfg, dissectors(e), e)
	if err := s.Run(context.Background(), src); err != nil {
		t.Fatalf("run %v: %v", paths, err)
	}
	e.Flush()
	return s.Stats()
}

// newTestEngine returns an engine with the shipped rules reporting to a
// collector.
func newTestEngine(t testing.TB, cfg Config) (*Engine, *Collector) {
	t.Helper()
	c := NewCollector()
	e, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

// obs builds a to-server observation from src to dst.
func obs(t time.Time, src string, sport uint16, dst string, dport uint16, protocol, kind string, detail any) *event.Observation {
	return &event.Observation{V: 1, Type: event.TypeObservation, Time: t, Flow: fmt.Sprintf("f-%s-%d", src, sport),
		Src: event.Endpoint{IP: netip.MustParseAddr(src), Port: sport}, Dst: event.Endpoint{IP: netip.MustParseAddr(dst), Port: dport},
		Dir: event.ToServer, Transport: "tcp", Proto: protocol, Kind: kind, Detail: detail}
}

// reply builds a to-client observation from the server src to client dst.
func reply(t time.Time, src string, sport uint16, dst string, dport uint16, protocol, kind string, detail any) *event.Observation {
	o := obs(t, src, sport, dst, dport, protocol, kind, detail)
	o.Dir = event.ToClient
	o.Flow = fmt.Sprintf("f-%s-%d", dst, dport)
	return o
}

// byRule returns the alerts of one rule.
func byRule(c *Collector, rule string) []event.Alert {
	var out []event.Alert
	for _, a := range c.Alerts() {
		if a.Rule == rule {
			out = append(out, a)
		}
	}
	return out
}

// recorder is a Sink that keeps every emission in order.
type recorder struct {
	alerts   []event.Alert
	findings []event.Finding
}

func (r *recorder) Alert(a *event.Alert)     { r.alerts = append(r.alerts, *a) }
func (r *recorder) Finding(f *event.Finding) { r.findings = append(r.findings, *f) }

func strconvItoa(i int) string { return strconv.Itoa(i) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
