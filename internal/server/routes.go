package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/heir-emd/heir/internal/auth"
)

// AccessKind says who may call a route.
type AccessKind int

const (
	// accessUndeclared is the zero value: a route that says nothing about
	// access cannot be registered.
	accessUndeclared AccessKind = iota
	// AccessPublic: anyone, unauthenticated (health, readiness, login).
	AccessPublic
	// AccessAuthenticated: any signed-in user, whatever their roles
	// (their own profile, logout, their own password).
	AccessAuthenticated
	// AccessPermission: a user one of whose roles grants the permission.
	AccessPermission
)

// Access is a route's declared access rule.
type Access struct {
	Kind       AccessKind
	Permission auth.Permission
}

// Public lets anyone call the route.
func Public() Access { return Access{Kind: AccessPublic} }

// Authenticated lets any signed-in user call the route.
func Authenticated() Access { return Access{Kind: AccessAuthenticated} }

// Require lets users holding p call the route.
func Require(p auth.Permission) Access { return Access{Kind: AccessPermission, Permission: p} }

func (a Access) String() string {
	switch a.Kind {
	case AccessPublic:
		return "public"
	case AccessAuthenticated:
		return "authenticated"
	case AccessPermission:
		return "permission " + string(a.Permission)
	}
	return "undeclared"
}

// Allows says whether p (nil: nobody signed in) may call a route with
// this access rule.
func (a Access) Allows(p *Principal) bool {
	switch a.Kind {
	case AccessPublic:
		return true
	case AccessAuthenticated:
		return p != nil
	case AccessPermission:
		return p != nil && p.Can(a.Permission)
	}
	return false
}

// Route is one entry of the route table: a method and a ServeMux path
// pattern ("/api/v1/assets/{id}"), who may call it, and its handler.
type Route struct {
	Method  string
	Pattern string
	Access  Access
	Handler http.Handler
	// Browser marks routes people reach with a web browser (the login
	// page, the UI): an unauthenticated GET is redirected to the login
	// page instead of answered with 401.
	Browser bool
	// Stream marks long-lived responses (Server-Sent Events): they are
	// exempt from the write timeout and measured apart.
	Stream bool
}

// Key is "METHOD pattern", the route's name in metrics and tests.
func (rt Route) Key() string { return rt.Method + " " + rt.Pattern }

// validate refuses a route without a declared access rule (or with a
// permission the role model does not know), so that nothing is exposed
// by omission.
func (rt Route) validate() error {
	if rt.Handler == nil {
		return fmt.Errorf("route %s: no handler", rt.Key())
	}
	if !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, rt.Method) {
		return fmt.Errorf("route %s: method %q not allowed", rt.Key(), rt.Method)
	}
	if !strings.HasPrefix(rt.Pattern, "/") || strings.ContainsAny(rt.Pattern, " \t") {
		return fmt.Errorf("route %s: pattern must be a path", rt.Key())
	}
	switch rt.Access.Kind {
	case AccessPublic, AccessAuthenticated:
		if rt.Access.Permission != "" {
			return fmt.Errorf("route %s: %s access with a permission", rt.Key(), rt.Access)
		}
	case AccessPermission:
		if !knownPermission(rt.Access.Permission) {
			return fmt.Errorf("route %s: unknown permission %q", rt.Key(), rt.Access.Permission)
		}
	default:
		return fmt.Errorf("route %s: no access rule declared (use Public, Authenticated or Require)", rt.Key())
	}
	return nil
}

// knownPermission says whether some role grants p: a permission no role
// has would make a route nobody can call, which is a typo.
func knownPermission(p auth.Permission) bool {
	for _, r := range auth.Roles {
		if auth.Allowed(r, p) {
			return true
		}
	}
	return false
}

// isSafe: methods that change nothing and need no CSRF token.
func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
