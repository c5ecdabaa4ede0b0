package detect

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

var (
	realtime     = flag.Bool("realtime", false, "run TestRealtime: replay the lab capture at a fixed rate through sensor and detector")
	realtimeRate = flag.Int("realtime-rate", 100_000, "packets per second for TestRealtime")
	realtimeFor  = flag.Duration("realtime-for", 10*time.Second, "how long TestRealtime replays")
)

// loadPackets reads a capture into memory.
func loadPackets(t testing.TB, path string) []capture.Packet {
	t.Helper()
	pkts, err := capture.ReadFiles(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// delaySink measures, for every alert emission, the wall-clock time since
// the packet that caused it was due to arrive.
type delaySink struct {
	due    *time.Time
	delays []time.Duration
	opens  int
}

func (d *delaySink) Alert(a *event.Alert) {
	d.delays = append(d.delays, time.Since(*d.due))
	if a.Count > 0 && !a.Final {
		d.opens++
	}
}
func (d *delaySink) Finding(*event.Finding) {}

// TestRealtime replays the lab capture in a loop at a fixed packet rate
// through the sensor and the engine, on one core (GOMAXPROCS=1: the pacing
// goroutine and the pipeline share it, as on a one-core sensor), and
// reports the delay from a packet's due time to the alert it caused
// (p50, p99, max) and the packets dropped because the pipeline fell
// behind a bounded queue. Each loop is shifted in capture time by more
// than any rule's quiet period, so that every loop raises its alerts anew.
//
//	go test ./internal/detect -run TestRealtime -realtime -v [-realtime-rate 100000] [-realtime-for 10s]
func TestRealtime(t *testing.T) {
	if !*realtime {
		t.Skip("run with -realtime (a timed replay; see bench notes in docs/detections.md)")
	}
	pkts := loadPackets(t, testenv.DataFile(t, "pcap/lab/medlab-dev.pcap"))
	span := pkts[len(pkts)-1].Time.Sub(pkts[0].Time)
	shift := span + 10*time.Minute

	// Capacity first: unpaced, sensor alone, then sensor and engine; per
	// second of wall time and per second of CPU the process used (the
	// latter does not depend on what else the machine runs).
	capacity := func(withEngine bool) (float64, float64) {
		var out sensor.Output = &sensortest.Recorder{}
		cfg := sensor.Config{Flow: flow.DefaultConfig}
		var e *Engine
		if withEngine {
			e, _ = New(Config{}, &discard{})
			cfg.Packets = e
			out = e
		} else {
			e, _ = New(Config{}, &discard{}) // for the same dissectors
			out = discardOutput{}
		}
		s := sensor.New(cfg, dissectors(e), out)
		loops := 20
		runtime.GC()
		start, cpu0 := time.Now(), cpuTime()
		for l := 0; l < loops; l++ {
			for i := range pkts {
				p := pkts[i]
				p.Time = p.Time.Add(time.Duration(l) * shift)
				s.Packet(&p)
			}
		}
		s.Finish()
		n := float64(loops * len(pkts))
		perCPU := 0.0
		if c := cpuTime() - cpu0; c > 0 {
			perCPU = n / c.Seconds()
		}
		return n / time.Since(start).Seconds(), perCPU
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	base, baseCPU := capacity(false)
	full, fullCPU := capacity(true)
	t.Logf("capacity on one core, unpaced: sensor alone %.0f packets/s (%.0f per CPU-second), sensor+detector %.0f packets/s (%.0f per CPU-second); ratio %.2f (CPU %.2f)",
		base, baseCPU, full, fullCPU, full/base, fullCPU/baseCPU)

	// Paced replay.
	var due time.Time
	sink := &delaySink{due: &due}
	e, err := New(Config{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	s := sensor.New(sensor.Config{Flow: flow.DefaultConfig, Packets: e}, dissectors(e), e)
	rate := *realtimeRate
	total := int(float64(rate) * realtimeFor.Seconds())
	// The queue between capture and processing holds what the live
	// capture's queue holds (capture.DefaultLiveOptions: 32 batches of 512
	// packets); when it is full the packet is dropped and counted, as the
	// live sensor does. (The kernel ring in front of it, 32 MiB, is not
	// modelled: the test is stricter than live capture.)
	type item struct {
		i   int
		due time.Time
	}
	queue := make(chan item, capture.DefaultLiveOptions.QueueBatches*capture.DefaultLiveOptions.BatchPackets)
	dropped := 0
	start := time.Now().Add(10 * time.Millisecond)
	cpu0 := cpuTime()
	go func() {
		defer close(queue)
		const burst = 100 // packets released together, every burst/rate
		for i := 0; i < total; i += burst {
			at := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			for j := i; j < min(i+burst, total); j++ {
				select {
				case queue <- item{j, start.Add(time.Duration(float64(j) / float64(rate) * float64(time.Second)))}:
				default:
					dropped++
				}
			}
			// A capture reader waits on the ring between blocks: let the
			// pipeline run (one core: they share it).
			runtime.Gosched()
		}
	}()
	processed := 0
	for it := range queue {
		loop, k := it.i/len(pkts), it.i%len(pkts)
		p := pkts[k]
		p.Time = p.Time.Add(time.Duration(loop) * shift)
		due = it.due
		s.Packet(&p)
		processed++
	}
	elapsed := time.Since(start)
	cpuUsed := cpuTime() - cpu0
	s.Finish()
	e.Flush()
	d := slices.Clone(sink.delays)
	slices.Sort(d)
	q := func(f float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[min(len(d)-1, int(f*float64(len(d))))]
	}
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	report := fmt.Sprintf("replay at %d packets/s for %s on one core (GOMAXPROCS=1, host %s, %s %s, %d CPUs, load average %s): %d packets, %d processed, %d dropped, achieved %.0f packets/s; %d alert emissions (%d opened); delay packet→alert p50 %s, p99 %s, max %s; CPU used %.2f s of %.2f s (%.0f%% of one core)",
		rate, realtimeFor, host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), strings.TrimSpace(string(load)), total, processed, dropped, float64(processed)/elapsed.Seconds(), len(d), sink.opens, q(0.5), q(0.99), q(1),
		cpuUsed.Seconds(), elapsed.Seconds(), 100*cpuUsed.Seconds()/elapsed.Seconds())
	t.Log(report)
	if len(d) == 0 {
		t.Fatal("no alerts in the replay")
	}
	if q(0.99) > time.Second {
		t.Errorf("p99 delay %s over one second", q(0.99))
	}
	if dropped > 0 {
		t.Errorf("%d packets dropped at %d packets/s", dropped, rate)
	}
}

// discardOutput is a sensor.Output that keeps nothing (the baseline).
type discardOutput struct{}

func (discardOutput) Observe(*event.Observation)       {}
func (discardOutput) FlowStart(*proto.Conn, time.Time) {}
func (discardOutput) Flow(*event.Flow)                 {}
func (discardOutput) ARP(*sensor.ARP)                  {}
