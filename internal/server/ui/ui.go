package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/taxonomy"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// StaticPrefix is where the UI's scripts, styles and vendored libraries
// are served. They hold no hospital data, so they are public (the
// sign-in page may use them) and cacheable.
const StaticPrefix = "/ui/static/"

// Options configure New. Everything has a default.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for "how long ago" (nil: time.Now).
	Now func() time.Time
	// Location is the time zone pages show times in (nil: time.Local).
	// Hospital staff read local time; the API stays in UTC.
	Location *time.Location
	// Site names the hospital in the header (default: none).
	Site string
	// Roles is the device-role vocabulary offered by the devices filter
	// (asset.DefaultRoles()); without it the filter is free text.
	Roles map[string]string
	// WallRefresh is how often the overview reloads itself in large-type
	// (wall screen) mode (default 60 s; negative: never).
	WallRefresh time.Duration
}

// UI is the web dashboard, an http.Handler for server.Options.UI.
type UI struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	loc    *time.Location
	tax    *taxonomy.Catalogue
	api    api
	pages  map[string]*template.Template
	static map[string]staticFile
	mux    *http.ServeMux
	roles  []string
}

type staticFile struct {
	body  []byte
	ctype string
	etag  string
}

// New parses the templates and indexes the embedded assets.
func New(o Options) (*UI, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.WallRefresh == 0 {
		o.WallRefresh = time.Minute
	}
	u := &UI{opts: o, log: o.Logger, now: o.Now, loc: o.Location, tax: taxonomy.New(), pages: map[string]*template.Template{}}
	for r := range o.Roles {
		u.roles = append(u.roles, r)
	}
	slices.Sort(u.roles)
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	if err := u.loadStatic(); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

// SetAPI connects the UI to the node's API handler (server.Handler()).
// The server is built with the UI in its options, so the connection is
// made afterwards; until then pages answer 503.
func (u *UI) SetAPI(h http.Handler) { u.api.h.Store(&h) }

// Routes are the UI's own routes outside its "/" mount, for
// server.Options.Routes: the static assets, public.
func (u *UI) Routes() []server.Route {
	return []server.Route{{Method: http.MethodGet, Pattern: StaticPrefix + "{file...}", Access: server.Public(), Handler: http.HandlerFunc(u.serveStatic)}}
}

// ServeHTTP serves the pages. The server has authenticated the user
// (any role) and checked the CSRF token of unsafe requests.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := server.PrincipalFrom(r.Context())
	if !ok {
		// Mounted without the server's authentication: refuse rather
		// than show hospital data.
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	if !p.Can(auth.PermRead) {
		u.errorPage(w, r, http.StatusForbidden, "Your account has no role that may read the dashboard. Ask an administrator for the viewer role.")
		return
	}
	if strings.HasPrefix(r.URL.Path, StaticPrefix) {
		u.serveStatic(w, r)
		return
	}
	u.mux.ServeHTTP(w, r)
}

func (u *UI) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", u.overview)
	m.HandleFunc("GET /devices", u.devices)
	m.HandleFunc("GET /devices/{id}", u.device)
	m.HandleFunc("GET /alerts", u.alerts)
	m.HandleFunc("GET /alerts/{id}", u.alert)
	m.HandleFunc("GET /findings", u.findings)
	m.HandleFunc("GET /findings/{id}", u.finding)
	m.HandleFunc("POST /findings/{id}/triage", u.triage)
	m.HandleFunc("GET /threats", u.threats)
	m.HandleFunc("GET /threats/{tax}/{id}", u.threat)
	m.HandleFunc("GET /users", u.users)
	m.HandleFunc("POST /users", u.createUser)
	m.HandleFunc("POST /users/{id}", u.updateUser)
	m.HandleFunc("POST /users/{id}/password", u.resetPassword)
	m.HandleFunc("GET /sensors", u.sensors)
	m.HandleFunc("POST /sensors", u.issueSensor)
	m.HandleFunc("POST /sensors/{name}/revoke", u.revokeSensor)
	m.HandleFunc("POST /account/password", u.changePassword)
	m.HandleFunc("GET /tokens", u.tokens)
	m.HandleFunc("POST /tokens", u.createToken)
	m.HandleFunc("POST /tokens/{id}/revoke", u.revokeToken)
	m.HandleFunc("GET /settings", u.settings)
	m.HandleFunc("POST /settings/rama", u.saveSettings)
	m.HandleFunc("POST /settings/rama/reset", u.resetSettings)
	m.HandleFunc("POST /display", u.display)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusNotFound, "There is no page at this address.")
	})
	u.mux = m
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"overview", "devices", "device", "alerts", "alert", "findings", "finding", "threats", "threat", "settings", "users", "sensors", "tokens", "error"}

func (u *UI) parseTemplates() error {
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(u.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("ui: template %s: %w", name, err)
		}
		u.pages[name] = t
	}
	return nil
}

func (u *UI) loadStatic() error {
	u.static = map[string]staticFile{}
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
			".json": "application/json", ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml"}[path.Ext(p)]
		if ct == "" {
			return fmt.Errorf("ui: static file %s: unknown type", p)
		}
		sum := sha256.Sum256(b)
		u.static[strings.TrimPrefix(p, "static/")] = staticFile{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
}

// serveStatic serves an embedded asset. Module scripts import each other
// by plain relative URLs, so assets are revalidated (ETag, no-cache)
// rather than fingerprinted: a changed binary never mixes old and new
// modules, and an unchanged one costs a 304.
func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, StaticPrefix)
	f, ok := u.static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// render writes a page, or an error page when the template fails before
// anything was sent.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, pg *page) {
	if status == http.StatusOK {
		pg.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := u.pages[name].Execute(&buf, pg); err != nil {
		u.log.ErrorContext(r.Context(), "render page", slog.String("page", name), slog.Any("err", err))
		if name != "error" {
			u.errorPage(w, r, http.StatusInternalServerError, "The page could not be drawn; the node's log says why.")
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages hold hospital data: never stored by the browser or a proxy.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows a problem in the layout.
func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	pg := u.newPage(r, "", http.StatusText(status))
	pg.Data = errorView{Status: status, Message: msg}
	u.render(w, r, status, "error", pg)
}

type errorView struct {
	Status  int
	Message string
}

// failAPI shows what went wrong with an API call: its status (404, 403,
// 400 …) and detail; anything else is logged and shown as 502.
func (u *UI) failAPI(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		u.errorPage(w, r, ae.Status, problemText(err))
		return
	}
	if errors.Is(err, errNoAPI) {
		u.errorPage(w, r, http.StatusServiceUnavailable, "The dashboard is starting; try again in a moment.")
		return
	}
	u.log.ErrorContext(r.Context(), "ui: API call failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	u.errorPage(w, r, http.StatusBadGateway, problemText(err))
}
