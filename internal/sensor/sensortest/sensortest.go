// Package sensortest runs captures through the real packet path for tests
// of dissectors and of everything downstream of them.
package sensortest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// Result is everything one run produced.
type Result struct {
	Observations []*event.Observation
	Flows        []*event.Flow
	ARP          []sensor.ARP
	Stats        sensor.Stats
	Inputs       []capture.InputStats
}

// Recorder is a sensor.Output that keeps everything.
type Recorder struct {
	mu           sync.Mutex
	Observations []*event.Observation
	Flows        []*event.Flow
	ARPs         []sensor.ARP
	Started      int
}

func (r *Recorder) Observe(o *event.Observation) {
	r.mu.Lock()
	r.Observations = append(r.Observations, o)
	r.mu.Unlock()
}

func (r *Recorder) FlowStart(*proto.Conn, time.Time) {
	r.mu.Lock()
	r.Started++
	r.mu.Unlock()
}

func (r *Recorder) Flow(f *event.Flow) {
	r.mu.Lock()
	r.Flows = append(r.Flows, f)
	r.mu.Unlock()
}

func (r *Recorder) ARP(a *sensor.ARP) {
	r.mu.Lock()
	r.ARPs = append(r.ARPs, *a)
	r.mu.Unlock()
}

// Run reads the captures at paths through the sensor with dissectors ds.
func Run(t testing.TB, cfg sensor.Config, ds []proto.Dissector, paths ...string) *Result {
	t.Helper()
	src, err := capture.OpenFiles(paths)
	if err != nil {
		t.Fatalf("open %v: %v", paths, err)
	}
	defer src.Close()
	rec := &Recorder{}
	s := sensor.New(cfg, ds, rec)
	if err := s.Run(context.Background(), src); err != nil {
		t.Fatalf("run %v: %v", paths, err)
	}
	return &Result{Observations: rec.Observations, Flows: rec.Flows, ARP: rec.ARPs, Stats: s.Stats(), Inputs: src.Stats()}
}

// Kinds counts observations by proto and kind ("dicom/c-store").
func (r *Result) Kinds() map[string]int {
	m := map[string]int{}
	for _, o := range r.Observations {
		m[o.Proto+"/"+o.Kind]++
	}
	return m
}
