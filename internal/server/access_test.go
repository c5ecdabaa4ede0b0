package server

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
)

var wildcard = regexp.MustCompile(`\{[a-z]+\}`)

// concrete fills a pattern's wildcards with an id that exists where one is
// needed, so that allowed requests reach the handler.
func concrete(pattern string) string {
	switch {
	case strings.HasPrefix(pattern, "/api/v1/assets/"), strings.HasPrefix(pattern, "/api/v1/scores/assets/"):
		return wildcard.ReplaceAllString(pattern, "dev-000")
	case strings.HasPrefix(pattern, "/api/v1/findings/"):
		return wildcard.ReplaceAllString(pattern, "fnd-000")
	case strings.HasPrefix(pattern, "/api/v1/alerts/"):
		return wildcard.ReplaceAllString(pattern, "alr-000")
	}
	return wildcard.ReplaceAllString(pattern, "x")
}

// TestRouteAccess walks every registered route: without credentials it is
// 401 (public routes excepted), a role without the route's permission
// gets 403, and a role with it gets past authorisation.
func TestRouteAccess(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	e := newEnv(t, func(o *Options) { o.UI = ui; o.Sensors = &fakeIssuer{} })
	fill(t, e.st, 3)
	public := map[string]bool{
		"GET /healthz": true, "GET /readyz": true, "GET /auth/login": true, "POST /auth/login": true, "GET /auth/login.css": true,
		"GET /auth/oidc/login": true, "GET /auth/oidc/callback": true, "POST /api/v1/auth/login": true,
	}
	routes := e.srv.Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		path := concrete(rt.Pattern)
		// Anonymous.
		resp, b := e.do(req{method: rt.Method, path: path, body: "{}", ctype: "application/json", stream: rt.Stream})
		switch {
		case public[rt.Key()]:
			if rt.Access.Kind != AccessPublic {
				t.Errorf("%s: want public, declared %s", rt.Key(), rt.Access)
			}
			if resp.StatusCode == http.StatusUnauthorized || strings.Contains(string(b), "/forbidden") {
				t.Errorf("%s anonymous: %d, want it public", rt.Key(), resp.StatusCode)
			}
		case rt.Access.Kind == AccessPublic:
			t.Errorf("%s is public but not in the list of routes allowed to be", rt.Key())
		case resp.StatusCode != http.StatusUnauthorized:
			t.Errorf("%s anonymous: %d, want 401: %s", rt.Key(), resp.StatusCode, b)
		}
		// Each role, through its API token.
		for _, tu := range testUsers {
			allowed := rt.Access.Allows(&Principal{Roles: roles(e.users[tu.name]), User: e.users[tu.name]})
			if rt.Access.Kind == AccessPermission {
				want := tu.role != "" && auth.Allowed(auth.Role(tu.role), rt.Access.Permission)
				if allowed != want {
					t.Fatalf("%s for %s: Allows %v, auth.Allowed %v", rt.Key(), tu.name, allowed, want)
				}
			}
			resp, b := e.do(req{method: rt.Method, path: path, body: "{}", ctype: "application/json", as: tu.name, stream: rt.Stream})
			denied := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden && strings.Contains(string(b), "/forbidden")
			if allowed == denied {
				t.Errorf("%s as %s: %d (allowed %v): %s", rt.Key(), tu.name, resp.StatusCode, allowed, b)
			}
		}
	}
}

// TestUndeclaredRouteRefused: a route without an access rule, with an
// unknown permission, or registered twice stops the server from starting.
func TestUndeclaredRouteRefused(t *testing.T) {
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	st := openSQLite(t, nil)
	for name, rt := range map[string]Route{
		"undeclared":   {Method: "GET", Pattern: "/ui/x", Handler: h},
		"unknown perm": {Method: "GET", Pattern: "/ui/x", Handler: h, Access: Require(auth.Permission("everything"))},
		"public+perm":  {Method: "GET", Pattern: "/ui/x", Handler: h, Access: Access{Kind: AccessPublic, Permission: auth.PermRead}},
		"duplicate":    {Method: "GET", Pattern: "/api/v1/assets", Handler: h, Access: Public()},
		"no handler":   {Method: "GET", Pattern: "/ui/x", Access: Public()},
		"bad method":   {Method: "TRACE", Pattern: "/ui/x", Handler: h, Access: Public()},
	} {
		_, err := New(context.Background(), Options{Store: st, Auth: AuthOptions{Password: cheap}, Routes: []Route{rt}})
		if err == nil {
			t.Errorf("%s: New accepted the route", name)
		}
	}
	_, err := New(context.Background(), Options{Store: st, Auth: AuthOptions{Password: cheap},
		Routes: []Route{{Method: "GET", Pattern: "/ui/x", Handler: h, Access: Require(auth.PermRead)}}})
	if err != nil {
		t.Fatalf("a declared route: %v", err)
	}
}

// fakeIssuer stands in for the bus.
type fakeIssuer struct {
	issued, revoked []string
	fail            error
}

func (f *fakeIssuer) IssueSensor(_ context.Context, name string) (SensorCredential, error) {
	if f.fail != nil {
		return SensorCredential{}, f.fail
	}
	f.issued = append(f.issued, name)
	return SensorCredential{File: []byte(`{"v":1,"type":"heir-sensor-credentials","sensor":"` + name + `","seed":"SUAFAKESEED"}`), PublicID: "UPUB" + name}, nil
}

func (f *fakeIssuer) RevokeSensor(_ context.Context, name string) error {
	f.revoked = append(f.revoked, name)
	return nil
}

var _ store.Store // the tests use the store through env
