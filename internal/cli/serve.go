package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/node"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/server/ui"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// nodeFlags configure the hospital node (heir serve, and heir demo).
type nodeFlags struct {
	dataDir        string
	db             string
	listen         string
	tlsCert        string
	tlsKey         string
	behindProxy    bool
	publicURL      string
	trustedProxies multiFlag
	forceSecure    bool
	metricsPublic  bool
	adminName      string
	busListen      string
	busTLSCert     string
	busTLSKey      string
	natsURL        string
	natsCreds      string
	scoreEvery     time.Duration
	ingestWorkers  int
	ramaConfig     string
	site           string
	oidcIssuer     string
	oidcClientID   string
	oidcName       string
	oidcRoleClaim  string
	oidcRoleMap    string
	oidcUserClaim  string
}

func (f *nodeFlags) register(fs *flag.FlagSet, listen string) {
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "the node's data `DIR`: database (SQLite), bus storage, imported knowledge")
	fs.StringVar(&f.db, "db", "", "the database: empty for SQLite in --data, or a PostgreSQL `URL` (postgres://user@host/db)")
	fs.StringVar(&f.listen, "listen", listen, "`HOST:PORT` of the web interface and API")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate `FILE` (PEM) for the web interface")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key `FILE` (PEM) for the web interface")
	fs.BoolVar(&f.behindProxy, "behind-proxy", false, "plain HTTP on a non-loopback address because a TLS proxy is in front")
	fs.StringVar(&f.publicURL, "public-url", "", "the `URL` users reach the node at (for OIDC callbacks and links)")
	fs.Var(&f.trustedProxies, "trusted-proxy", "an `ADDRESS` or CIDR whose X-Forwarded-For is believed (repeatable)")
	fs.BoolVar(&f.forceSecure, "force-secure-cookies", false, "keep cookies Secure even on a plain loopback listener")
	fs.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without authentication (for a scraper on a trusted network)")
	fs.StringVar(&f.adminName, "admin-name", "admin", "`NAME` of the first administrator, created at the first start with a one-time password")
	fs.StringVar(&f.busListen, "bus-listen", bus.DefaultListen, "`HOST:PORT` sensors publish to (the embedded NATS JetStream server)")
	fs.StringVar(&f.busTLSCert, "bus-tls-cert", "", "TLS certificate `FILE` (PEM) for the bus; required of sensors when set")
	fs.StringVar(&f.busTLSKey, "bus-tls-key", "", "TLS key `FILE` (PEM) for the bus")
	fs.StringVar(&f.natsURL, "nats-url", "", "use an existing NATS JetStream cluster at these `URLS` instead of the embedded server")
	fs.StringVar(&f.natsCreds, "nats-creds", "", "the node's NATS credentials `FILE` for --nats-url")
	fs.DurationVar(&f.scoreEvery, "score-every", 5*time.Minute, "how often every device is rescored (RAMA); a snapshot is kept per day")
	fs.IntVar(&f.ingestWorkers, "ingest-workers", 0, "sensor events stored at once (0: 1 on SQLite, which has one writer; 4 on PostgreSQL)")
	fs.StringVar(&f.ramaConfig, "rama-config", "", "RAMA weights and parameters, a YAML `FILE` (docs/rama.md)")
	fs.StringVar(&f.site, "site", "", "the site's declarations for scoring, a YAML `FILE` (docs/rama.md)")
	fs.StringVar(&f.oidcIssuer, "oidc-issuer", "", "single sign-on: the OpenID Connect issuer `URL` (the client secret comes from HEIR_OIDC_CLIENT_SECRET)")
	fs.StringVar(&f.oidcClientID, "oidc-client-id", "", "single sign-on: the client `ID` registered with the provider")
	fs.StringVar(&f.oidcName, "oidc-name", "", "single sign-on: the provider's `NAME` on the sign-in page")
	fs.StringVar(&f.oidcRoleClaim, "oidc-role-claim", "groups", "single sign-on: the `CLAIM` holding the user's groups")
	fs.StringVar(&f.oidcRoleMap, "oidc-role-map", "", "single sign-on: groups to roles, `GROUP=ROLE[,ROLE];…` (e.g. 'sec-team=analyst;it=admin')")
	fs.StringVar(&f.oidcUserClaim, "oidc-user-claim", "", "single sign-on: the `CLAIM` shown as the user's name (default preferred_username)")
}

// runningNode is a started hospital node.
type runningNode struct {
	store    store.Store
	closeDB  func() error
	bus      *bus.Server // nil with --nats-url
	nc       *nats.Conn
	srv      *server.Server
	ingest   *node.Ingest
	consumer *bus.Consumer
	scoring  *node.Scoring
	url      string
	registry *bus.Registry
	password string // the first administrator's one-time password, "" if not created now
}

// startNode opens the store, starts the bus and the web server, and runs
// ingest and scoring in g. Listening sockets are open when it returns.
func startNode(ctx context.Context, g *errgroup.Group, f *nodeFlags, log *slog.Logger, newUI uiFactory, busNoListen bool) (*runningNode, error) {
	n := &runningNode{}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	switch {
	case f.db == "":
		db, err := sqlite.Open(ctx, f.dataDir, sqlite.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		n.store, n.closeDB = db, db.Close
	case strings.HasPrefix(f.db, "postgres://") || strings.HasPrefix(f.db, "postgresql://"):
		db, err := postgres.Open(ctx, f.db, postgres.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		n.store, n.closeDB = db, db.Close
	default:
		return nil, fmt.Errorf("--db: %q is neither empty (SQLite) nor a postgres:// URL", redact(f.db))
	}

	var cfg *rama.Config
	var ramaBase server.RAMABase
	if f.ramaConfig != "" {
		c, err := rama.LoadConfig(f.ramaConfig)
		if err != nil {
			return nil, err
		}
		cfg = c
		// The API shows the document as the administrator wrote it; it
		// was read and validated just above.
		data, err := os.ReadFile(f.ramaConfig)
		if err != nil {
			return nil, fmt.Errorf("--rama-config: %w", err)
		}
		ramaBase = server.RAMABase{YAML: data, Source: "file " + f.ramaConfig}
	}
	var site *rama.Site
	if f.site != "" {
		s, err := rama.LoadSite(f.site)
		if err != nil {
			return nil, err
		}
		site = s
	}

	// The bus.
	n.registry = bus.NewRegistry(filepath.Join(f.dataDir, "sensors.json"))
	if f.natsURL == "" {
		var busTLS *tls.Config
		if f.busTLSCert != "" {
			cert, err := tls.LoadX509KeyPair(f.busTLSCert, f.busTLSKey)
			if err != nil {
				return nil, fmt.Errorf("--bus-tls-cert: %w", err)
			}
			busTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		srv, err := bus.StartServer(bus.ServerConfig{StoreDir: filepath.Join(f.dataDir, "nats"), Listen: f.busListen,
			NoListen: busNoListen, TLS: busTLS, Registry: n.registry, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("start the bus: %w (another NATS on %s? choose another --bus-listen)", err, f.busListen)
		}
		n.bus = srv
		nc, err := srv.Connect("heir-node")
		if err != nil {
			return nil, err
		}
		n.nc = nc
		g.Go(func() error { srv.Watch(ctx, time.Second); return nil })
	} else {
		nc, err := bus.Dial(bus.DialConfig{URLs: strings.Split(f.natsURL, ","), CredsFile: f.natsCreds, Name: "heir-node"})
		if err != nil {
			return nil, err
		}
		n.nc = nc
	}

	// The web server.
	alerts := server.NewBroadcaster(server.BroadcasterOptions{})
	n.ingest = &node.Ingest{Events: n.store, Alerts: alerts, Log: log}
	workers := f.ingestWorkers
	if workers == 0 {
		workers = 1
		if f.db != "" {
			workers = 4
		}
	}
	cons, err := bus.NewConsumer(n.nc, bus.ConsumerConfig{CreateStream: true, Workers: workers, Logger: log}, n.ingest)
	if err != nil {
		return nil, err
	}
	n.consumer = cons
	metrics := server.NewMetrics(server.MetricsOptions{Node: nodeStats{n}})
	n.scoring = &node.Scoring{Store: n.store, Settings: n.store, Config: cfg, Site: site, Log: log,
		Knowledge: func() (*vuln.KB, []inventory.Device, error) {
			kb, devs, err := importer.Store{Dir: kbDir(f.dataDir)}.Load()
			if err != nil {
				return nil, nil, err
			}
			return kb, devs.List(), nil
		}}

	pw, created, err := server.Bootstrap(ctx, n.store, server.BootstrapOptions{Name: f.adminName})
	if err != nil {
		return nil, err
	}
	if created {
		n.password = pw
	}
	var webTLS *tls.Config
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		webTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	opts := server.Options{
		Store: n.store, Logger: log, Listen: f.listen, TLS: webTLS, BehindProxy: f.behindProxy,
		PublicURL: f.publicURL, TrustedProxies: f.trustedProxies,
		Auth:   server.AuthOptions{ForceSecureCookies: f.forceSecure},
		Alerts: alerts, Metrics: metrics, MetricsPublic: f.metricsPublic, RAMA: ramaBase,
		Sensors: busIssuer{reg: n.registry, bus: n.bus, nodeURL: f.busListen},
		Bus: server.HealthFunc(func(context.Context) error {
			if !n.nc.IsConnected() {
				return errors.New("bus disconnected")
			}
			return nil
		}),
	}
	if f.oidcIssuer != "" {
		o, err := f.oidc()
		if err != nil {
			return nil, err
		}
		opts.OIDC = o
	}
	var web webUI
	if newUI != nil {
		u, err := newUI(log)
		if err != nil {
			return nil, err
		}
		web = u
		opts.UI, opts.Routes = u, u.Routes()
	}
	srv, err := server.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if web != nil {
		web.SetAPI(srv.Handler())
	}
	n.srv = srv
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (choose another --listen)", f.listen, err)
	}
	scheme := "http"
	if webTLS != nil {
		scheme = "https"
	}
	n.url = scheme + "://" + ln.Addr().String() + "/"
	if f.publicURL != "" {
		n.url = f.publicURL
	}
	g.Go(func() error { return srv.Serve(ctx, ln) })
	g.Go(func() error { return cons.Run(ctx) })
	g.Go(func() error {
		return n.scoring.Run(ctx, f.scoreEvery)
	})
	g.Go(func() error { return n.maintain(ctx, log) })
	return n, nil
}

// ingestMemory is how long the node remembers stored event ids: longer
// than the bus keeps events (7 days) plus a sensor's time offline, so a
// redelivered event is still recognised.
const ingestMemory = 30 * 24 * time.Hour

// maintain forgets old event ids and expired sessions, hourly.
func (n *runningNode) maintain(ctx context.Context, log *slog.Logger) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if _, err := n.store.PruneIngested(ctx, now.Add(-ingestMemory)); err != nil && ctx.Err() == nil {
			log.Warn("prune ingested event ids", "err", err)
		}
		if _, err := n.store.PruneSessions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("prune sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (n *runningNode) close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.bus != nil {
		n.bus.Shutdown()
	}
	if n.closeDB != nil {
		n.closeDB()
	}
}

// webUI is the dashboard: it calls the API in-process, so it is given
// the server's handler once the server exists.
type webUI interface {
	http.Handler
	Routes() []server.Route
	SetAPI(http.Handler)
}

// uiFactory builds the web interface (nil: the API only).
type uiFactory func(log *slog.Logger) (webUI, error)

// defaultUI is the web interface heir serves.
func defaultUI(log *slog.Logger) (webUI, error) {
	return ui.New(ui.Options{Logger: log, Roles: asset.DefaultRoles()})
}

// nodeStats reports the ingest pipeline to /metrics.
type nodeStats struct{ n *runningNode }

func (s nodeStats) NodeStats() server.NodeSnapshot {
	in := s.n.ingest.Stats()
	cs := s.n.consumer.Stats()
	return server.NodeSnapshot{
		EventsIn:      map[string]uint64{"received": cs.Received, "stored": in.Stored, "duplicate": in.Duplicates},
		EventsDropped: map[string]uint64{"rejected": cs.Rejected},
	}
}

// busIssuer issues and revokes sensor credentials for the web interface.
type busIssuer struct {
	reg     *bus.Registry
	bus     *bus.Server
	nodeURL string
}

func (b busIssuer) IssueSensor(ctx context.Context, name string) (server.SensorCredential, error) {
	if b.bus == nil {
		return server.SensorCredential{}, errors.New("sensors of an external NATS cluster get credentials from its operator")
	}
	c, err := b.reg.Add(name, time.Now())
	if err != nil {
		if errors.Is(err, bus.ErrSensorExists) {
			return server.SensorCredential{}, fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		return server.SensorCredential{}, err
	}
	if u := b.bus.URL(); u != "" {
		c.URLs = []string{u}
	}
	pub, err := c.PublicKey()
	if err != nil {
		return server.SensorCredential{}, err
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return server.SensorCredential{}, err
	}
	if err := b.bus.Reload(); err != nil {
		return server.SensorCredential{}, err
	}
	return server.SensorCredential{File: raw, FileName: name + ".creds", PublicID: pub}, nil
}

func (b busIssuer) RevokeSensor(ctx context.Context, name string) error {
	if err := b.reg.Revoke(name, time.Now()); err != nil {
		return err
	}
	if b.bus != nil {
		return b.bus.Reload()
	}
	return nil
}

func (f *nodeFlags) oidc() (*server.OIDCOptions, error) {
	o := &server.OIDCOptions{Issuer: f.oidcIssuer, ClientID: f.oidcClientID, ClientSecret: os.Getenv("HEIR_OIDC_CLIENT_SECRET"),
		Name: f.oidcName, RoleClaim: f.oidcRoleClaim, UserClaim: f.oidcUserClaim, RoleMap: map[string][]string{}}
	if o.ClientID == "" {
		return nil, errors.New("--oidc-issuer needs --oidc-client-id")
	}
	for _, part := range strings.Split(f.oidcRoleMap, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		group, roles, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("--oidc-role-map: %q is not GROUP=ROLE[,ROLE]", part)
		}
		for _, r := range strings.Split(roles, ",") {
			role, err := auth.ParseRole(strings.TrimSpace(r))
			if err != nil {
				return nil, fmt.Errorf("--oidc-role-map: %w", err)
			}
			o.RoleMap[strings.TrimSpace(group)] = append(o.RoleMap[strings.TrimSpace(group)], string(role))
		}
	}
	return o, nil
}

// redact hides a URL's password.
func redact(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}

// runServe: heir serve [flags]
func runServe(e *env, args []string) int {
	fs := newFlags("serve", "heir serve [flags]", `
Run the hospital node: it receives what the sensors publish (over the
embedded NATS JetStream bus, or an existing NATS cluster), stores it
(SQLite in the data directory, or PostgreSQL), scores every device (RAMA),
and serves the web interface and the REST API (/api/v1, OpenAPI at
/api/v1/openapi.json). At the first start it creates an administrator and
prints a one-time password.`)
	var f nodeFlags
	f.register(fs, server.DefaultListen)
	reset := fs.String("reset-password", "", "give user `NAME` a new one-time password (when every administrator is locked out) and exit")
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(e.stderr, "serve", "unexpected arguments %q", fs.Args())
	}
	if *reset != "" {
		return resetPassword(e, &f, *reset)
	}
	return serveNode(e, &f, false, func(n *runningNode) {
		fmt.Fprintf(e.stderr, "heir serve: web interface and API at %s\n", n.url)
		if n.bus != nil && n.bus.URL() != "" {
			fmt.Fprintf(e.stderr, "heir serve: sensors publish to %s (issue credentials with 'heir sensor add')\n", n.bus.URL())
		}
	})
}

// serveNode runs a node until ctx ends; started is called once it listens.
func serveNode(e *env, f *nodeFlags, busNoListen bool, started func(*runningNode)) int {
	g, ctx := errgroup.WithContext(e.ctx)
	n, err := startNode(ctx, g, f, e.log, defaultUI, busNoListen)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir: %v\n", err)
		if n != nil {
			n.close()
		}
		return ExitUsage
	}
	defer n.close()
	if n.password != "" {
		// The terminal, never the log: it is a secret.
		fmt.Fprintf(e.stderr, "heir: first start: user %q, one-time password %s (shown once; change it after signing in)\n", f.adminName, n.password)
	}
	started(n)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "heir: %v\n", err)
		return ExitInternal
	}
	return ExitOK
}

func resetPassword(e *env, f *nodeFlags, name string) int {
	var st interface {
		store.Users
		store.Sessions
		io.Closer
	}
	var err error
	if f.db == "" {
		st, err = sqlite.Open(e.ctx, f.dataDir, sqlite.Options{Logger: e.log})
	} else {
		st, err = postgres.Open(e.ctx, f.db, postgres.Options{Logger: e.log})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "heir serve: %v\n", err)
		return ExitUsage
	}
	defer st.Close()
	pw, err := server.ResetPassword(e.ctx, st, name, auth.Params{})
	if err != nil {
		fmt.Fprintf(e.stderr, "heir serve: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(e.stdout, "user %q: one-time password %s (shown once)\n", name, pw)
	return ExitOK
}
