package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/baseline"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/demo"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// demoUsers are the accounts heir demo creates beside the administrator,
// one per role a visitor wants to try.
var demoUsers = []struct{ name, role string }{
	{"analyst", "analyst"}, {"viewer", "viewer"}, {"auditor", "auditor"},
}

// runDemo: heir demo [flags]
func runDemo(e *env, args []string) int {
	fs := newFlags("demo", "heir demo [flags]", `
Run all of heir in one process on embedded defaults, the one command to
see it work: a hospital node (SQLite, embedded NATS JetStream, web
interface) and a sensor that replays a hospital-lab capture shipped with
heir (DICOM, HL7, MQTT, TLS, Telnet, FTP, HTTP, and an attacker's scans,
brute force, floods and exfiltration), with the bundled CISA medical
advisories, KEV catalogue and end-of-life data imported. It builds a few
days of history first, then replays the capture as live traffic every few
minutes. It prints the address and one-time passwords, and stops on Ctrl-C.`)
	listen := fs.String("listen", "127.0.0.1:8080", "`HOST:PORT` of the web interface")
	dataDir := fs.String("data", "", "keep the demo's state in `DIR` (default: a temporary folder, removed at exit)")
	days := fs.Int("days", 7, "`DAYS` of history to build before going live")
	every := fs.Duration("replay-every", 3*time.Minute, "how often the capture is replayed as live traffic")
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if *days < 1 || *days > 90 {
		return usageError(e.stderr, "demo", "--days must be between 1 and 90")
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "heir-demo-")
		if err != nil {
			fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
			return ExitInternal
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	d := &demoRun{e: e, dir: dir}
	if err := d.importKnowledge(); err != nil {
		fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
		return ExitInternal
	}
	f := nodeFlags{dataDir: dir, listen: *listen, adminName: "admin", scoreEvery: 30 * time.Second}
	g, ctx := errgroup.WithContext(e.ctx)
	n, err := startNode(ctx, g, &f, e.log, defaultUI, true)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
		if n != nil {
			n.close()
		}
		return ExitUsage
	}
	defer n.close()
	d.n = n
	passwords, err := d.users(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
		return ExitInternal
	}
	if err := d.startSensor(ctx, g); err != nil {
		fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
		return ExitInternal
	}
	// History: the capture as it would have been seen on each past day,
	// scored at the end of that day, so that trends have points.
	now := time.Now()
	for back := *days - 1; back >= 1; back-- {
		at := now.Add(-time.Duration(back) * 24 * time.Hour)
		if err := d.replay(ctx, at); err != nil {
			return d.fail(err)
		}
		if _, err := n.scoring.Once(ctx, at); err != nil {
			return d.fail(err)
		}
	}
	if err := d.replay(ctx, time.Now()); err != nil {
		return d.fail(err)
	}
	if _, err := n.scoring.Once(ctx, time.Now()); err != nil {
		return d.fail(err)
	}
	fmt.Fprintf(e.stdout, "heir demo is running at %s\n", n.url)
	fmt.Fprintf(e.stdout, "sign in as %-8s with one-time password %s\n", f.adminName, n.password)
	for _, u := range demoUsers {
		fmt.Fprintf(e.stdout, "        or %-8s with one-time password %s\n", u.name, passwords[u.name])
	}
	fmt.Fprintf(e.stdout, "the lab capture replays as live traffic every %s; Ctrl-C stops the demo\n", *every)
	g.Go(func() error {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if err := d.replay(ctx, time.Now()); err != nil && ctx.Err() == nil {
					e.log.Warn("demo replay failed", "err", err)
				}
			}
		}
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "heir demo: %v\n", err)
		return ExitInternal
	}
	return ExitOK
}

// demoBaseline is how each demo replay learns behaviour baselines: the
// bundled lab capture's first 29 seconds are its benign activities (DICOM
// stores, HL7, MQTT telemetry, TLS, logins; testdata/lab/README.md and its
// ground truth), the attacks start after 29.9 s. A fresh baseline learns
// them in each replay, counting in 1 s windows since the lab's activities
// last seconds, so every replay shows the anomalies of the attack part as
// the rules show its attacks (the lab test of internal/baseline measures
// the same settings).
var demoBaseline = engineFlags{offered: true, learn: 29 * time.Second, learnFlows: 1, window: time.Second,
	threshold: baseline.DefaultConfig.Threshold}

// demoRun is the state of a running demo.
type demoRun struct {
	e       *env
	dir     string
	n       *runningNode
	pub     *bus.Publisher
	capture string
	end     time.Time // the last packet's time in the capture
}

func (d *demoRun) fail(err error) int {
	fmt.Fprintf(d.e.stderr, "heir demo: %v\n", err)
	return ExitInternal
}

func (d *demoRun) importKnowledge() error {
	src := filepath.Join(d.dir, "bundle")
	if err := os.MkdirAll(src, 0o700); err != nil {
		return err
	}
	ks, err := demo.WriteKnowledge(src)
	if err != nil {
		return err
	}
	for _, k := range ks {
		rep, err := importer.Run(d.e.ctx, kbDir(d.dir), k.Kind, []string{k.Path}, importer.Options{}, d.e.log)
		if err != nil {
			return fmt.Errorf("import %s: %w", k.Kind, err)
		}
		if rep.Files > 0 && rep.Rejected == rep.Files {
			return fmt.Errorf("import %s: every file refused", k.Kind)
		}
	}
	p, err := demo.WriteCapture(d.dir)
	if err != nil {
		return err
	}
	d.capture = p
	// Find where the recording ends, to move replays onto the wall clock.
	src2, err := capture.OpenFiles([]string{p})
	if err != nil {
		return err
	}
	defer src2.Close()
	for {
		pk, err := src2.Next(d.e.ctx)
		if err != nil {
			break
		}
		d.end = pk.Time
	}
	if d.end.IsZero() {
		return errors.New("the bundled capture is empty")
	}
	return nil
}

// users creates one account per demo role with a one-time password.
func (d *demoRun) users(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, u := range demoUsers {
		pw, _, err := auth.NewSecret("")
		if err != nil {
			return nil, err
		}
		pw = pw[:20]
		h, err := auth.HashPassword(pw, auth.DefaultParams)
		if err != nil {
			return nil, err
		}
		if _, err := d.n.store.CreateUser(ctx, "heir-demo", store.User{Name: u.name, DisplayName: "Demo " + u.role,
			Roles: []string{u.role}, PasswordHash: h}); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue // a kept --data folder from an earlier run
			}
			return nil, err
		}
		out[u.name] = pw
	}
	return out, nil
}

// startSensor registers the demo's sensor with the bus and starts its
// publisher, connected in-process.
func (d *demoRun) startSensor(ctx context.Context, g *errgroup.Group) error {
	name := "demo-sensor"
	creds, err := d.n.registry.Add(name, time.Now())
	if errors.Is(err, bus.ErrSensorExists) {
		if err := d.n.registry.Revoke(name, time.Now()); err != nil {
			return err
		}
		name = fmt.Sprintf("demo-sensor-%d", time.Now().Unix())
		creds, err = d.n.registry.Add(name, time.Now())
	}
	if err != nil {
		return err
	}
	if err := d.n.bus.Reload(); err != nil {
		return err
	}
	pub, err := bus.NewPublisher(bus.PublisherConfig{Creds: creds, SpoolDir: filepath.Join(d.dir, "spool"),
		NATSOptions: []nats.Option{d.n.bus.InProcess()}, Logger: d.e.log})
	if err != nil {
		return err
	}
	d.pub = pub
	g.Go(func() error { return pub.Run(ctx) })
	return nil
}

// replay runs the capture through a fresh sensor as if it ended at end,
// publishes the devices, findings and alerts it produced, and waits until
// the node has stored them.
func (d *demoRun) replay(ctx context.Context, end time.Time) error {
	src, err := capture.OpenFiles([]string{d.capture})
	if err != nil {
		return err
	}
	defer src.Close()
	sink := &eventSink{jl: newJSONLines(io.Discard), pub: d.pub}
	sf := sensorFlags{maxFlows: flow.DefaultConfig.MaxFlows, engines: demoBaseline}
	set, err := sf.build(sink, d.e.log)
	if err != nil {
		return err
	}
	outs := []sensor.Output{set.inventory}
	outs = append(outs, set.outputs()...)
	s := sensor.New(set.config, set.dissectors, sensor.Tee(outs...))
	shifted := demo.Shifted{Source: src, By: end.Sub(d.end)}
	if err := runSource(ctx, s, shifted, newProgress(io.Discard, "never", 0)); err != nil {
		return err
	}
	set.flush()
	for _, a := range set.inventory.Assets() {
		d.pub.Publish(event.TypeAsset, &a)
	}
	return d.waitStored(ctx)
}

// waitStored waits until the node has taken everything published.
func (d *demoRun) waitStored(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ps := d.pub.Stats()
		cs := d.n.consumer.Stats()
		if ps.QueueDepth == 0 && ps.SpoolPending == 0 && cs.Stored+cs.Rejected >= ps.Published {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("the node did not store the replay's events within a minute")
}
