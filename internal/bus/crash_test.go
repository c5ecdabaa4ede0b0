package bus

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// The crash test re-runs the test binary as the node (a child process it
// can kill -9); these variables select that mode and configure it.
const (
	crashNodeEnv   = "HEIR_BUS_CRASH_NODE"
	crashDirEnv    = "HEIR_BUS_CRASH_DIR"
	crashListenEnv = "HEIR_BUS_CRASH_LISTEN"
	crashDelayEnv  = "HEIR_BUS_CRASH_DELAY"
	crashStreamEnv = "HEIR_BUS_CRASH_STREAM_BYTES"
	crashWorkerEnv = "HEIR_BUS_CRASH_WORKERS"
)

// runCrashNode is the child: an embedded server with file storage and a
// consumer storing into SQLite, both in the data directory, until SIGTERM
// (or SIGKILL). Each envelope takes at least the configured delay, so that
// a replay lasts long enough to be interrupted.
func runCrashNode() int {
	dir, listen := os.Getenv(crashDirEnv), os.Getenv(crashListenEnv)
	delay, _ := time.ParseDuration(os.Getenv(crashDelayEnv))
	streamBytes, _ := strconv.ParseInt(os.Getenv(crashStreamEnv), 10, 64)
	workers, _ := strconv.Atoi(os.Getenv(crashWorkerEnv))
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "crash node:", err); return 1 }
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	srv, err := StartServer(ServerConfig{
		StoreDir: filepath.Join(dir, "nats"),
		Listen:   listen,
		Registry: NewRegistry(filepath.Join(dir, "sensors.json")),
	})
	if err != nil {
		return fail(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("crash-node")
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	store, err := openStore(filepath.Join(dir, "store.db"))
	if err != nil {
		return fail(err)
	}
	defer store.db.Close()
	h := HandlerFunc(func(ctx context.Context, env Envelope) error {
		if delay > 0 {
			time.Sleep(delay)
		}
		return store.Handle(ctx, env)
	})
	// A small stream: when the node falls behind, the stream refuses new
	// events and the sensor keeps them in its spool, so that the kills
	// find both the sensor and the node in the middle of their replays.
	cons, err := NewConsumer(nc, ConsumerConfig{CreateStream: true, Limits: StreamLimits{MaxBytes: streamBytes},
		AckWait: 2 * time.Second, MaxAckPending: 128, Workers: workers}, h)
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	if err := cons.Run(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintf(os.Stderr, "crash node: stopped, %+v, duplicates seen %d\n", cons.Stats(), store.dups.Load())
	return 0
}

type child struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func startCrashNode(t *testing.T, dir, listen string, workers int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	streamBytes := 256 << 10 // about 450 envelopes
	if raceEnabled {
		streamBytes = 16 << 10
	}
	cmd.Env = append(os.Environ(), crashNodeEnv+"=1", crashDirEnv+"="+dir, crashListenEnv+"="+listen,
		// Each worker is as slow as the one worker of the first run, so
		// that both runs fall behind the sensor as much and the kills find
		// acknowledged, unstored events either way.
		crashDelayEnv+"="+(time.Duration(workers)*400*time.Microsecond).String(), crashStreamEnv+"="+strconv.Itoa(streamBytes), crashWorkerEnv+"="+strconv.Itoa(workers))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("crash node did not start: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("crash node did not start in time: %s", stderr.String())
	}
	return &child{cmd: cmd, stderr: &stderr}
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("node did not die by SIGKILL: %v", err)
	}
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("node exit: %v: %s", err, c.stderr.String())
	}
	t.Logf("%s", strings.TrimSpace(c.stderr.String()))
}

// TestCrashDuringReplay is the acceptance test: a sensor replays a spool
// of events (and keeps publishing live ones) while the node is killed with
// SIGKILL twice, mid-replay, and restarted on its files. At each kill the
// node holds events it acknowledged to the sensor but had not stored yet.
// In the end every event the publisher had acknowledged — indeed every
// event — is stored, and none twice. It runs with the node's consumer
// handling one envelope at a time and with four workers.
func TestCrashDuringReplay(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { crashDuringReplay(t, workers) })
	}
}

func crashDuringReplay(t *testing.T, workers int) {
	dir := t.TempDir()
	addr := freePort(t)
	reg := NewRegistry(filepath.Join(dir, "sensors.json"))
	creds, err := reg.Add("crash", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	creds.URLs = []string{"nats://" + addr}
	p, stopPub := runPublisher(t, PublisherConfig{Creds: creds, SpoolDir: t.TempDir(), Window: 64})
	defer stopPub()

	spooled, live := 2500, 500
	if raceEnabled {
		spooled, live = 250, 50
	}
	total := spooled + live
	for i := range spooled {
		if err := p.Publish(event.TypeFlow, testFlow(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "spooled", func() bool { return p.Stats().Spooled == uint64(spooled) })

	// Live events keep coming, whether the node is up or not.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := spooled; i < total; i++ {
			if err := p.Publish(event.TypeFlow, testFlow(i)); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	reader := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "store.db")+"?mode=ro&_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	stored := func(db *sql.DB) int {
		var n int
		if err := db.QueryRow(`SELECT count(DISTINCT id) FROM events`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	node := startCrashNode(t, dir, addr, workers)
	db := reader()
	var ackedAtKill []uint64
	sensorMidReplay := false
	for _, at := range []int{total / 4, total / 2} {
		waitFor(t, 60*time.Second, fmt.Sprintf("%d stored", at), func() bool { return stored(db) >= at })
		node.kill(t)
		st, n := p.Stats(), stored(db)
		ackedAtKill = append(ackedAtKill, st.AckedSeq)
		t.Logf("killed the node with %d events stored; publisher: %d acknowledged, %d pending", n, st.AckedSeq, st.SpoolPending)
		if st.AckedSeq <= uint64(n) {
			t.Fatalf("the node held no acknowledged, unstored event when killed (%d stored, %d acknowledged)", n, st.AckedSeq)
		}
		sensorMidReplay = sensorMidReplay || st.SpoolPending > 0
		node = startCrashNode(t, dir, addr, workers)
	}
	if !sensorMidReplay {
		t.Error("the sensor had finished its replay at both kills")
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for stored(db) != total || p.Stats().SpoolPending != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d of %d events stored; publisher %+v", stored(db), total, p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	db.Close()
	node.stop(t)

	db = reader()
	defer db.Close()
	if twice := storedTwice(t, db); len(twice) > 0 {
		t.Fatalf("%d events stored twice, e.g. %s", len(twice), twice[0])
	}
	rows := storedRows(t, db)
	seen := make(map[uint64]bool, len(rows))
	for _, r := range rows {
		seen[r.seq] = true
		if r.sensor != "crash" {
			t.Fatalf("row from %s", r.sensor)
		}
	}
	for seq := uint64(1); seq <= uint64(total); seq++ {
		if !seen[seq] {
			t.Fatalf("event %d missing (acknowledged up to %v at the kills)", seq, ackedAtKill)
		}
	}
	st := p.Stats()
	if st.Published < uint64(total) || st.DroppedQueueFull+st.DroppedSpoolFull+st.DroppedSpoolError != 0 {
		t.Fatalf("publisher stats %+v", st)
	}
	t.Logf("stored %d events exactly once; publisher %+v; acknowledged at the kills: %v", len(rows), st, ackedAtKill)
}
