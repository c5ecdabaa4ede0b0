package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/node"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/sqlite"
)

// benchSensor is the sensor name the ingest envelopes carry.
const benchSensor = "bench-ward"

// labRecords are what a sensor publishes after the lab capture: its
// device inventory, findings and alerts (as internal/node's tests build
// them).
type labRecords struct {
	assets   []event.Asset
	findings []event.Finding
	alerts   []event.Alert
}

// runLab runs a capture through the sensor, the passive inventory and
// detection.
func runLab(ctx context.Context, path string) (*labRecords, error) {
	inv, err := asset.New(asset.Config{})
	if err != nil {
		return nil, err
	}
	col := detect.NewCollector()
	eng, err := detect.New(detect.Config{Rules: detect.DefaultRules()}, col)
	if err != nil {
		return nil, err
	}
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		return nil, fmt.Errorf("open the lab capture (set --pcap or HEIR_DATA): %w", err)
	}
	defer src.Close()
	s := sensor.New(sensor.Config{Packets: eng}, registry.All(registry.Options{}), sensor.Tee(inv, eng))
	if err := s.Run(ctx, src); err != nil {
		return nil, fmt.Errorf("run %s through the sensor: %w", path, err)
	}
	eng.Flush()
	lab := &labRecords{assets: inv.Assets(), findings: col.Findings(), alerts: col.Alerts()}
	if len(lab.assets) == 0 || len(lab.findings)+len(lab.alerts) == 0 {
		return nil, fmt.Errorf("%s gave %d devices, %d findings and %d alerts: not a capture to ingest", path,
			len(lab.assets), len(lab.findings), len(lab.alerts))
	}
	return lab, nil
}

// envelopeSet is the ingest workload: the lab's records copied with
// distinct ids and addresses, wrapped as the sensor's publisher wraps them.
type envelopeSet struct {
	envs                     []bus.Envelope
	assets, findings, alerts int
	dataBytes                int64 // sum of the records' JSON
	copies                   int
}

// envelopes makes n envelopes from copies of the lab's records. Copy k
// gives every device, finding and alert a new id and moves every IPv4
// address into 100.64.0.0/10 at an offset of its own, so each copy is a
// new set of devices and incidents (inserts, as on a growing network),
// not an update of the last.
func (lab *labRecords) envelopes(n int) (*envelopeSet, error) {
	ips := map[netip.Addr]uint32{}
	index := func(a netip.Addr) uint32 {
		i, ok := ips[a]
		if !ok {
			i = uint32(len(ips))
			ips[a] = i
		}
		return i
	}
	for _, a := range lab.assets {
		for _, ip := range a.IPs {
			index(ip)
		}
	}
	perCopy := uint32(len(ips)) + 64 // room for addresses only alerts name
	base := uint32(100)<<24 | 64<<16
	set := &envelopeSet{}
	seq := uint64(0)
	now := time.Now().UTC()
	add := func(typ string, rec any) error {
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		seq++
		set.envs = append(set.envs, bus.Envelope{V: bus.EnvelopeVersion, ID: bus.EventID(benchSensor, typ, data), Sensor: benchSensor,
			Seq: seq, Type: typ, Time: now, Data: data})
		set.dataBytes += int64(len(data))
		return nil
	}
	for k := 0; len(set.envs) < n; k++ {
		if uint64(k+1)*uint64(perCopy) >= 1<<22 {
			return nil, fmt.Errorf("%d events need more copies of the lab than 100.64.0.0/10 holds", n)
		}
		set.copies++
		moved := func(a netip.Addr) netip.Addr {
			if !a.Is4() {
				return a
			}
			i := index(a)
			if i >= perCopy {
				i = perCopy - 1
			}
			v := base + uint32(k)*perCopy + i
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
		suffix := fmt.Sprintf("-c%05d", k)
		for _, a := range lab.assets {
			a.ID += suffix
			a.IPs = mapAddrs(a.IPs, moved)
			if err := add(event.TypeAsset, a); err != nil {
				return nil, err
			}
			set.assets++
			if len(set.envs) == n {
				return set, nil
			}
		}
		for _, f := range lab.findings {
			f.ID += suffix
			if f.Asset != "" {
				f.Asset += suffix
			}
			f.Endpoint.IP = moved(f.Endpoint.IP)
			if err := add(event.TypeFinding, f); err != nil {
				return nil, err
			}
			set.findings++
			if len(set.envs) == n {
				return set, nil
			}
		}
		for _, al := range lab.alerts {
			al.ID += suffix
			al.Source.IP = moved(al.Source.IP)
			al.Targets = append([]event.Endpoint(nil), al.Targets...)
			for i := range al.Targets {
				al.Targets[i].IP = moved(al.Targets[i].IP)
			}
			if err := add(event.TypeAlert, al); err != nil {
				return nil, err
			}
			set.alerts++
			if len(set.envs) == n {
				return set, nil
			}
		}
	}
	return set, nil
}

func mapAddrs(in []netip.Addr, f func(netip.Addr) netip.Addr) []netip.Addr {
	out := make([]netip.Addr, len(in))
	for i, a := range in {
		out[i] = f(a)
	}
	return out
}

// scratch is an empty store of one backend for an ingest run, removed
// afterwards: the filled hospital must keep its size to be reused.
type scratch struct {
	st    store.Store
	close func()
}

func newScratch(ctx context.Context, backend string, cfg *config, log *slog.Logger) (*scratch, error) {
	suffix := randomSuffix()
	switch backend {
	case "sqlite":
		dir, err := os.MkdirTemp(cfg.scratchDir, "heir-bench-node-ingest-")
		if err != nil {
			return nil, err
		}
		db, err := sqlite.Open(ctx, dir, sqlite.Options{Logger: log})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		return &scratch{st: db, close: func() { db.Close(); os.RemoveAll(dir) }}, nil
	case "postgres":
		schema := "heir_bench_node_ingest_" + suffix
		conn, err := pgx.Connect(ctx, cfg.pgURL)
		if err != nil {
			return nil, err
		}
		ident := pgx.Identifier{schema}.Sanitize()
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
			conn.Close(ctx)
			return nil, err
		}
		drop := func() {
			// The run's context may be over: drop with a fresh one.
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := conn.Exec(dctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
				log.Warn("drop the ingest schema", "schema", schema, "err", err)
			}
			conn.Close(dctx)
		}
		db, err := postgres.Open(ctx, cfg.pgURL, postgres.Options{Logger: log, Schema: schema})
		if err != nil {
			drop()
			return nil, err
		}
		return &scratch{st: db, close: func() { db.Close(); drop() }}, nil
	}
	return nil, fmt.Errorf("unknown backend %q", backend)
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ingestResult is one measured ingest pass.
type ingestResult struct {
	name    string
	workers int
	events  int
	took    time.Duration
	stats   node.IngestStats
	note    string
}

func (r ingestResult) rate() float64 { return float64(r.events) / r.took.Seconds() }

// handleAll hands every envelope to h.Handle from the given number of
// goroutines, as fast as the store takes them.
func handleAll(ctx context.Context, h *node.Ingest, envs []bus.Envelope, workers int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(envs)) || ctx.Err() != nil {
					return
				}
				if err := h.Handle(ctx, envs[i]); err != nil {
					errs <- fmt.Errorf("envelope %d (%s): %w", i, envs[i].Type, err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	return took, <-errs
}

// measureIngest runs the envelopes through node.Ingest.Handle on a fresh
// store of the backend, once per worker count, then delivers them all a
// second time (every one a duplicate the store recognises).
func measureIngest(ctx context.Context, backend string, cfg *config, set *envelopeSet, log *slog.Logger) ([]ingestResult, error) {
	var out []ingestResult
	for i, workers := range cfg.ingestWorkers {
		sc, err := newScratch(ctx, backend, cfg, log)
		if err != nil {
			return out, fmt.Errorf("%s: ingest store: %w", backend, err)
		}
		h := &node.Ingest{Events: sc.st, Alerts: server.NewBroadcaster(server.BroadcasterOptions{}), Log: log}
		took, err := handleAll(ctx, h, set.envs, workers)
		if err != nil {
			sc.close()
			return out, fmt.Errorf("%s: ingest: %w", backend, err)
		}
		st := h.Stats()
		if st.Stored != uint64(len(set.envs)) {
			sc.close()
			return out, fmt.Errorf("%s: ingest stored %d of %d events (%d duplicates, %d rejected)", backend, st.Stored, len(set.envs), st.Duplicates, st.Rejected)
		}
		out = append(out, ingestResult{name: "Ingest.Handle, new events", workers: workers, events: len(set.envs), took: took, stats: st})
		if i == 0 {
			// Redelivery: the bus's at-least-once costs this much.
			h2 := &node.Ingest{Events: sc.st, Log: log}
			took, err := handleAll(ctx, h2, set.envs, 1)
			if err != nil {
				sc.close()
				return out, fmt.Errorf("%s: redelivery: %w", backend, err)
			}
			st := h2.Stats()
			if st.Duplicates != uint64(len(set.envs)) {
				sc.close()
				return out, fmt.Errorf("%s: redelivery found %d duplicates of %d", backend, st.Duplicates, len(set.envs))
			}
			out = append(out, ingestResult{name: "Ingest.Handle, redelivered (all duplicates)", workers: 1, events: len(set.envs), took: took, stats: st})
		}
		sc.close()
	}
	return out, nil
}

// measureBus runs the full path of the node: the envelopes are published
// to the embedded NATS JetStream server first (a backlog, as after the
// node was down), then the node's consumer drains them through
// node.Ingest into a fresh store. Both rates are returned.
func measureBus(ctx context.Context, backend string, cfg *config, set *envelopeSet, log *slog.Logger) ([]ingestResult, error) {
	dir, err := os.MkdirTemp(cfg.scratchDir, "heir-bench-node-bus-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: filepath.Join(dir, "nats"), NoListen: true, Logger: log})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("heir-node")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	if _, err := bus.EnsureStream(ctx, js, bus.Topology{}, bus.StreamLimits{}); err != nil {
		return nil, err
	}
	msgs := make([]*nats.Msg, len(set.envs))
	for i, env := range set.envs {
		data, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		m := nats.NewMsg(bus.Subject(bus.DefaultPrefix, env.Sensor, env.Type))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, env.ID)
		msgs[i] = m
	}
	start := time.Now()
	for _, m := range msgs {
		if _, err := js.PublishMsgAsync(m); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return nil, fmt.Errorf("JetStream did not acknowledge %d publishes within 5 minutes", js.PublishAsyncPending())
	}
	pubTook := time.Since(start)

	sc, err := newScratch(ctx, backend, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("%s: ingest store: %w", backend, err)
	}
	defer sc.close()
	h := &node.Ingest{Events: sc.st, Alerts: server.NewBroadcaster(server.BroadcasterOptions{}), Log: log}
	// The node's default: one worker on SQLite (one writer), four on
	// PostgreSQL (heir serve --ingest-workers).
	workers := 1
	if backend == "postgres" {
		workers = 4
	}
	cons, err := bus.NewConsumer(nc, bus.ConsumerConfig{CreateStream: true, Workers: workers, Logger: log}, h)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- cons.Run(cctx) }()
	n := uint64(len(set.envs))
	deadline := time.After(30 * time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-tick.C:
			if st := h.Stats(); st.Stored+st.Duplicates+st.Rejected >= n {
				break wait
			}
		case <-deadline:
			cancel()
			<-done
			return nil, fmt.Errorf("%s: the consumer stored %d of %d events in 30 minutes", backend, h.Stats().Stored, n)
		case err := <-done:
			cancel()
			return nil, fmt.Errorf("%s: consumer stopped: %v", backend, err)
		}
	}
	drainTook := time.Since(start)
	cancel()
	<-done
	st, cs := h.Stats(), cons.Stats()
	if st.Stored != n || cs.Rejected != 0 {
		return nil, fmt.Errorf("%s: through the bus %d stored, %d duplicates, %d rejected of %d", backend, st.Stored, st.Duplicates, cs.Rejected, n)
	}
	return []ingestResult{
		{name: "bus: publish to embedded JetStream (async, in-process)", workers: 1, events: len(set.envs), took: pubTook, note: "no store"},
		{name: "bus: consumer → Ingest.Handle → store (drain)", workers: workers, events: len(set.envs), took: drainTook, stats: st,
			note: fmt.Sprintf("%d redelivered", cs.Redelivered)},
	}, nil
}
