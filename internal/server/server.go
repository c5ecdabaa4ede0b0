package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// Store is what the server needs of the node's store: every small
// interface but event ingestion, which is the bus consumer's.
type Store interface {
	store.Assets
	store.Findings
	store.Alerts
	store.Audit
	store.Users
	store.Sessions
	store.Tokens
	store.Sensors
	store.Scores
	store.Vulnerabilities
	store.Settings
	// SchemaVersion doubles as the readiness probe: it reads the
	// database.
	SchemaVersion(ctx context.Context) (int, error)
}

// Health is a dependency readiness asks about (the bus): nil means ready.
type Health interface {
	Healthy(ctx context.Context) error
}

// HealthFunc adapts a function to Health.
type HealthFunc func(ctx context.Context) error

// Healthy calls f.
func (f HealthFunc) Healthy(ctx context.Context) error { return f(ctx) }

// Options configure New. Store is required; everything else has a
// default.
type Options struct {
	Store  Store
	Logger *slog.Logger
	// Now is the server's clock (nil: time.Now).
	Now func() time.Time

	// Listen is the address Run listens on (default 127.0.0.1:8443).
	Listen string
	// TLS, when set, serves HTTPS with this configuration (MinVersion is
	// raised to TLS 1.2). Without it the server speaks plain HTTP, which
	// New allows only on a loopback address unless BehindProxy is set.
	TLS *tls.Config
	// BehindProxy says a TLS-terminating reverse proxy fronts a plain
	// HTTP listener: plain HTTP is then allowed on any address, cookies
	// stay Secure, and TrustedProxies may name the proxy.
	BehindProxy bool
	// PublicURL is the node's external base URL (https://heir.example.org).
	// It is the origin browsers must send on unsafe requests and the base
	// of the OIDC redirect URL. Empty: the request's own host.
	PublicURL string
	// TrustedProxies are the proxy addresses whose X-Forwarded-For is
	// believed for the client address (login rate limits and logs).
	TrustedProxies []string

	Auth AuthOptions
	// OIDC, when set, adds single sign-on with an OpenID Connect provider.
	OIDC *OIDCOptions

	// UI, when set, is mounted at "/" for signed-in users (any role: the
	// UI checks finer permissions with PrincipalFrom). Routes adds routes
	// of its own with their access rules, through the same table.
	UI     http.Handler
	Routes []Route

	// Alerts is the broadcaster the node publishes new and updated alerts
	// to; GET /api/v1/alerts/stream relays them (nil: New makes one, which
	// only tests publish to).
	Alerts *Broadcaster
	// Sensors issues and revokes sensor credentials (the bus). Nil: the
	// sensor endpoints answer 501.
	Sensors SensorIssuer
	// Bus is asked by /readyz (nil: not checked).
	Bus Health
	// Metrics is the Prometheus registry and the node's gauges (nil: New
	// makes one without node gauges).
	Metrics *Metrics
	// MetricsPublic serves /metrics without authentication (for a scraper
	// on a trusted network); by default it needs a token or session with
	// the read permission.
	MetricsPublic bool

	// Site is the subject of the hospital's RAMA scores (default
	// "hospital").
	Site string
	// RAMA is the scoring configuration in force when no administrator
	// stored one through /api/v1/settings/rama.
	RAMA RAMABase
	// MaxBody bounds request bodies (default 1 MiB).
	MaxBody int64
	// ReadTimeout, WriteTimeout and IdleTimeout are the http.Server's
	// (defaults 30 s, 60 s, 120 s). Event streams are exempt from the
	// write timeout; each of their writes has its own deadline.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Server is the node's HTTP server.
type Server struct {
	opts      Options
	st        Store
	log       *slog.Logger
	now       func() time.Time
	tax       *taxonomy.Catalogue
	routes    []Route
	mux       *http.ServeMux
	handler   http.Handler
	metrics   *Metrics
	alerts    *Broadcaster
	authn     *authenticator
	oidc      *oidcProvider
	publicURL *url.URL
	proxies   []net.IPNet
	secure    bool // cookies are Secure
}

// Defaults.
const (
	DefaultListen  = "127.0.0.1:8443"
	DefaultSite    = "hospital"
	defaultMaxBody = 1 << 20
)

// New checks the options, builds the route table and returns the server.
// It fails on a route without an access rule, plain HTTP on a
// non-loopback address without BehindProxy, or an unreachable OIDC
// provider.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("server: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Site == "" {
		o.Site = DefaultSite
	}
	if o.MaxBody <= 0 {
		o.MaxBody = defaultMaxBody
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	s := &Server{opts: o, st: o.Store, log: o.Logger, now: o.Now, tax: taxonomy.New(), metrics: o.Metrics, alerts: o.Alerts}
	if s.metrics == nil {
		s.metrics = NewMetrics(MetricsOptions{})
	}
	if s.alerts == nil {
		s.alerts = NewBroadcaster(BroadcasterOptions{})
	}
	s.metrics.watchBroadcaster(s.alerts)

	loopback := isLoopback(o.Listen)
	switch {
	case o.TLS != nil:
		s.secure = true
	case o.BehindProxy:
		s.secure = true
	case loopback:
		// The demo on one machine: a browser would not send a Secure
		// cookie over http://127.0.0.1, and nothing leaves the host.
		s.secure = o.Auth.ForceSecureCookies
	default:
		return nil, fmt.Errorf("server: refusing plain HTTP on %s, which is not a loopback address: give a TLS certificate, or set BehindProxy when a TLS proxy fronts the node", o.Listen)
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("server: public URL %q: want http(s)://host[:port]", o.PublicURL)
		}
		s.publicURL = u
	}
	for _, p := range o.TrustedProxies {
		if !strings.Contains(p, "/") {
			if strings.Contains(p, ":") {
				p += "/128"
			} else {
				p += "/32"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("server: trusted proxy %q: %w", p, err)
		}
		s.proxies = append(s.proxies, *n)
	}
	var err error
	if s.authn, err = newAuthenticator(s, o.Auth); err != nil {
		return nil, err
	}
	if o.OIDC != nil {
		if s.oidc, err = newOIDCProvider(ctx, s, *o.OIDC); err != nil {
			return nil, err
		}
	}
	routes := append(s.apiRoutes(), o.Routes...)
	if o.UI != nil {
		routes = append(routes, Route{Method: http.MethodGet, Pattern: "/", Access: Authenticated(), Handler: o.UI, Browser: true},
			Route{Method: http.MethodPost, Pattern: "/", Access: Authenticated(), Handler: o.UI, Browser: true})
	}
	if err := s.register(routes); err != nil {
		return nil, err
	}
	return s, nil
}

// register validates every route and builds the mux. Any route without an
// access rule, or a duplicate, stops the server from starting.
func (s *Server) register(routes []Route) error {
	s.mux = http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range routes {
		if err := rt.validate(); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		if seen[rt.Key()] {
			return fmt.Errorf("server: route %s registered twice", rt.Key())
		}
		seen[rt.Key()] = true
		if err := s.handle(rt.Method+" "+rt.Pattern, rt); err != nil {
			return err
		}
		s.routes = append(s.routes, rt)
	}
	// Unknown API paths are a problem document, not the UI's page: these
	// catch-alls are more specific than the UI's "GET /" and "POST /".
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if seen[m+" /api/v1/"] {
			continue
		}
		nf := Route{Method: m, Pattern: "/api/v1/", Access: Public(), Handler: http.HandlerFunc(s.apiNotFound)}
		if err := s.handle(nf.Key(), nf); err != nil {
			return err
		}
	}
	s.handler = s.outer(s.mux)
	return nil
}

// Routes returns the route table, in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler is the whole server as an http.Handler (for tests and for
// embedding in another server).
func (s *Server) Handler() http.Handler { return s.handler }

// Broadcaster is the live alert broadcaster the server relays.
func (s *Server) Broadcaster() *Broadcaster { return s.alerts }

// Metrics is the server's metrics registry.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Run listens on Options.Listen and serves until ctx is cancelled, then
// shuts down gracefully (waiting up to 10 s for requests in flight; live
// streams end at once).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.opts.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.opts.TLS != nil {
		cfg := s.opts.TLS.Clone()
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2", "http/1.1"}
		}
		ln = tls.NewListener(ln, cfg)
	}
	// Request contexts derive from base, which is cancelled on shutdown:
	// that ends live streams, which Shutdown would otherwise wait for.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.log.Info("serving", slog.String("addr", ln.Addr().String()), slog.Bool("tls", s.opts.TLS != nil), slog.Bool("secure_cookies", s.secure))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// isLoopback says whether a listen address is loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handle registers rt on the mux, turning the mux's panic on a bad or
// conflicting pattern into an error.
func (s *Server) handle(pattern string, rt Route) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("server: route %s: %v", rt.Key(), r)
		}
	}()
	s.mux.Handle(pattern, s.wrap(rt))
	return nil
}
