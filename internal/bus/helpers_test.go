package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/heir-emd/heir/internal/event"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashNodeEnv) != "" {
		os.Exit(runCrashNode())
	}
	goleak.VerifyTestMain(m)
}

// sqlStore is the tests' idempotent handler: it stores each envelope once
// by id in a real SQLite file. The table has no unique constraint on id on
// purpose: the handler's check is what makes storage exactly-once, so a
// test that counts rows per id can catch a double store.
type sqlStore struct {
	db   *sql.DB
	dups atomic.Uint64 // envelopes seen again and not stored
	fail func(Envelope) error
}

// openStore opens the SQLite file in WAL mode with synchronous=NORMAL: a
// commit survives the process being killed (it is in the WAL, in the
// operating system's cache); only power loss could undo the last ones.
func openStore(path string) (*sqlStore, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS events (
		n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, sensor TEXT NOT NULL,
		seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL)`); err != nil {
		db.Close()
		return nil, err
	}
	return &sqlStore{db: db}, nil
}

func (s *sqlStore) Handle(ctx context.Context, env Envelope) error {
	if s.fail != nil {
		if err := s.fail(env); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM events WHERE id = ?`, env.ID).Scan(&one)
	if err == nil {
		s.dups.Add(1)
		return tx.Commit()
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, sensor, seq, type, data) VALUES (?, ?, ?, ?, ?)`,
		env.ID, env.Sensor, env.Seq, env.Type, string(env.Data)); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqlStore) count(t testing.TB) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// storedTwice returns ids stored more than once.
func storedTwice(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT id FROM events GROUP BY id HAVING count(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

type storedRow struct {
	id, sensor, typ, data string
	seq                   uint64
}

func storedRows(t testing.TB, db *sql.DB) []storedRow {
	t.Helper()
	rows, err := db.Query(`SELECT id, sensor, seq, type, data FROM events ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.id, &r.sensor, &r.seq, &r.typ, &r.data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// freePort reserves a loopback port for a server that starts later.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// node is a running embedded server with a consumer storing into SQLite.
type node struct {
	srv    *Server
	nc     *nats.Conn
	cons   *Consumer
	store  *sqlStore
	cancel context.CancelFunc
	done   chan error
}

type nodeOpts struct {
	dir      string // data dir (store + registry); default a temp dir
	listen   string
	tls      *tls.Config
	ackWait  time.Duration
	failFunc func(Envelope) error
	topo     Topology
	workers  int
}

func startNode(t testing.TB, o nodeOpts) *node {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	srv, err := StartServer(ServerConfig{
		StoreDir: filepath.Join(o.dir, "nats"),
		Listen:   o.listen,
		TLS:      o.tls,
		Registry: NewRegistry(filepath.Join(o.dir, "sensors.json")),
		Topology: o.topo,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	nc, err := srv.Connect("heir-node-test")
	if err != nil {
		srv.Shutdown()
		t.Fatal(err)
	}
	store, err := openStore(filepath.Join(o.dir, "store.db"))
	if err != nil {
		nc.Close()
		srv.Shutdown()
		t.Fatal(err)
	}
	store.fail = o.failFunc
	cons, err := NewConsumer(nc, ConsumerConfig{Topology: o.topo, CreateStream: true, AckWait: o.ackWait, Workers: o.workers, Logger: testLogger(t)}, store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{srv: srv, nc: nc, cons: cons, store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- cons.Run(ctx) }()
	// Sensors that publish before the stream exists are refused and
	// resend; tests that check order wait for it.
	waitFor(t, 10*time.Second, "event stream", func() bool {
		topo, _ := o.topo.normalise()
		_, err := jsStream(nc, topo.Stream)
		return err == nil
	})
	return n
}

func (n *node) stop(t testing.TB) {
	t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		t.Errorf("consumer: %v", err)
	}
	n.nc.Close()
	n.srv.Shutdown()
	n.store.db.Close()
}

func (n *node) registry() *Registry { return n.srv.cfg.Registry }

// addSensor issues credentials pointing at the node and applies them.
func (n *node) addSensor(t testing.TB, name string) *Credentials {
	t.Helper()
	c, err := n.registry().Add(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.URLs = []string{n.srv.URL()}
	if err := n.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	return c
}

// runPublisher starts a publisher's Run; stop cancels it and waits.
func runPublisher(t testing.TB, cfg PublisherConfig) (*Publisher, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatalf("new publisher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, 5*time.Second, "publisher start", p.running.Load)
	return p, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("publisher run: %v", err)
		}
	}
}

// testFlow makes a distinct flow record.
func testFlow(i int) *event.Flow {
	t0 := time.Date(2026, 11, 28, 15, 43, 40, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return &event.Flow{
		V: 1, Type: event.TypeFlow, ID: fmt.Sprintf("%016x", i), Start: t0, End: t0.Add(time.Second),
		Transport: "tcp", Proto: "dicom", Reason: "fin",
		Client: event.Endpoint{IP: netipAddr("10.77.0.20"), Port: uint16(40000 + i%20000)},
		Server: event.Endpoint{IP: netipAddr("10.77.0.10"), Port: 4242},
		Counts: [2]event.Counts{{Packets: uint64(i), Bytes: 100}, {Packets: 1, Bytes: 60}},
	}
}

// testCerts makes a CA and a server certificate for 127.0.0.1.
func testCerts(t testing.TB) (serverTLS *tls.Config, caPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "heir test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "heir node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
