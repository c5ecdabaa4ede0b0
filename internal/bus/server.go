package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// DefaultListen is where the embedded server accepts sensors unless told
// otherwise: loopback only, on NATS's standard port, so that a node exposes
// nothing until its operator chooses an address (and TLS).
const DefaultListen = "127.0.0.1:4222"

// Defaults of the embedded server's JetStream storage.
const (
	DefaultMaxStoreBytes  = 8 << 30
	defaultMaxMemoryBytes = 64 << 20
	defaultReadyTimeout   = 10 * time.Second
)

// ServerConfig configures the node's embedded NATS server.
type ServerConfig struct {
	// StoreDir holds JetStream's files (the node gives it <data dir>/nats).
	StoreDir string
	// Listen is host:port for sensors (default DefaultListen; port 0 picks
	// a free one).
	Listen string
	// NoListen accepts in-process connections only (heir demo, tests).
	NoListen bool
	// TLS, when set, is required of every network client; the sensors'
	// credentials then carry the CA to trust.
	TLS *tls.Config
	// Registry lists the sensors allowed to publish. Nil: none.
	Registry *Registry
	// Topology names the subjects (for sensor permissions).
	Topology Topology
	// MaxStoreBytes caps JetStream's file storage (default
	// DefaultMaxStoreBytes).
	MaxStoreBytes int64
	// SyncAlways fsyncs every stored message: survives power loss, at a
	// cost in throughput. Without it, stored messages survive the process
	// being killed (they are in the operating system's cache) and reach
	// the disk within JetStream's sync interval (2 minutes).
	SyncAlways bool
	// ReadyTimeout bounds the start (default 10 s).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Server is the embedded NATS server with JetStream. Sensors authenticate
// with nkeys from the Registry and may publish only to their own subjects
// (<prefix>.<sensor>.>) and receive only on their own inbox
// (_INBOX.heir.<sensor>.>); they have no access to the JetStream API. The
// node connects in-process with a key made at start that never leaves
// memory.
type Server struct {
	cfg  ServerConfig
	srv  *server.Server
	node nkeys.KeyPair
	log  *slog.Logger

	mu     sync.Mutex // serialises reloads
	digest [32]byte
}

// StartServer starts the embedded server and waits until it accepts
// connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("bus: the embedded server needs a store directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxStoreBytes == 0 {
		cfg.MaxStoreBytes = DefaultMaxStoreBytes
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = defaultReadyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if cfg.Topology, err = cfg.Topology.normalise(); err != nil {
		return nil, err
	}
	node, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("bus: node key: %w", err)
	}
	s := &Server{cfg: cfg, node: node, log: cfg.Logger}
	sensors, digest, err := s.activeSensors()
	if err != nil {
		return nil, err
	}
	opts, err := s.options(sensors)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(natsLogger{cfg.Logger}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("bus: embedded NATS server not ready within %v (is %s free?)", cfg.ReadyTimeout, cfg.Listen)
	}
	s.srv = srv
	s.digest = digest
	s.log.Info("bus: embedded NATS server ready", "listen", s.listenAddr(), "tls", cfg.TLS != nil,
		"store", cfg.StoreDir, "sensors", len(sensors))
	return s, nil
}

func (s *Server) activeSensors() ([]Sensor, [32]byte, error) {
	if s.cfg.Registry == nil {
		return nil, [32]byte{}, nil
	}
	rf, digest, err := s.cfg.Registry.load()
	if err != nil {
		return nil, digest, err
	}
	var out []Sensor
	for _, sn := range rf.Sensors {
		if sn.Active() {
			out = append(out, sn)
		}
	}
	return out, digest, nil
}

// options builds the server's options for a set of sensors; a reload
// builds them afresh (the server keeps the ones it is given).
func (s *Server) options(sensors []Sensor) (*server.Options, error) {
	nodePub, err := s.node.PublicKey()
	if err != nil {
		return nil, err
	}
	users := []*server.NkeyUser{{Nkey: nodePub}} // the node: no limits
	for _, sn := range sensors {
		users = append(users, &server.NkeyUser{
			Nkey: sn.NKey,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{s.cfg.Topology.Prefix + "." + sn.Name + ".>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(sn.Name) + ".>"}},
			},
		})
	}
	opts := &server.Options{
		ServerName:             "heir-node",
		JetStream:              true,
		StoreDir:               s.cfg.StoreDir,
		JetStreamMaxStore:      s.cfg.MaxStoreBytes,
		JetStreamMaxMemory:     defaultMaxMemoryBytes,
		SyncAlways:             s.cfg.SyncAlways,
		MaxPayload:             MaxMessageBytes,
		Nkeys:                  users,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		TLSConfig:              s.cfg.TLS,
		DontListen:             s.cfg.NoListen,
	}
	if s.cfg.TLS != nil {
		opts.TLS = true
		opts.TLSTimeout = 5
	}
	if !s.cfg.NoListen {
		host, port, err := net.SplitHostPort(s.cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus: listen address %q: %w", s.cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("bus: listen address %q: bad port", s.cfg.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	return opts, nil
}

func (s *Server) listenAddr() string {
	if s.cfg.NoListen {
		return "in-process only"
	}
	if a := s.srv.Addr(); a != nil {
		return a.String()
	}
	return s.cfg.Listen
}

// URL is the address sensors dial (nats:// or tls://), or "" with
// NoListen. A wildcard listen address is given as loopback: say the
// host's name in the sensors' credentials instead.
func (s *Server) URL() string {
	if s.cfg.NoListen {
		return ""
	}
	a, ok := s.srv.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "nats"
	if s.cfg.TLS != nil {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// InProcess is the option that makes a NATS client connect to this server
// in-process (for sensors inside the node's process: heir demo, tests).
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.srv) }

// Connect opens the node's own in-process connection, with full rights.
func (s *Server) Connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	pub, err := s.node.PublicKey()
	if err != nil {
		return nil, err
	}
	o := append([]nats.Option{
		nats.Name(name),
		nats.InProcessServer(s.srv),
		nats.Nkey(pub, s.node.Sign),
		nats.MaxReconnects(-1),
	}, opts...)
	nc, err := nats.Connect("", o...)
	if err != nil {
		return nil, fmt.Errorf("bus: node connection: %w", err)
	}
	return nc, nil
}

// Reload re-reads the registry and applies it: new sensors may connect,
// revoked ones are disconnected at once and refused from then on. It does
// nothing when the registry file has not changed.
func (s *Server) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sensors, digest, err := s.activeSensors()
	if err != nil {
		return err
	}
	if digest == s.digest {
		return nil
	}
	opts, err := s.options(sensors)
	if err != nil {
		return err
	}
	if err := s.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("bus: apply sensor registry: %w", err)
	}
	s.digest = digest
	s.log.Info("bus: sensor registry applied", "sensors", len(sensors))
	return nil
}

// Watch applies registry changes until ctx ends, checking every interval
// (default 1 s). Errors are logged and the previous sensors kept.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Reload(); err != nil {
				s.log.Error("bus: sensor registry not applied; keeping the previous one", "err", err)
			}
		}
	}
}

// Connected returns how many client connections the server has (sensors
// and the node's own).
func (s *Server) Connected() int { return s.srv.NumClients() }

// Shutdown stops the server and waits for it. Stored messages stay in
// StoreDir.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.node.Wipe()
}

// natsLogger passes the server's messages to slog. Its notices are
// routine (start, stop, reloads), so they go to debug.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(format string, v ...any) { n.l.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (n natsLogger) Warnf(format string, v ...any)   { n.l.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.l.Error("nats: " + fmt.Sprintf(format, v...)) }
func (n natsLogger) Errorf(format string, v ...any)  { n.l.Error("nats: " + fmt.Sprintf(format, v...)) }
func (n natsLogger) Debugf(format string, v ...any)  { n.l.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any)  {}
