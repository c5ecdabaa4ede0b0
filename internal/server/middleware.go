package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// contentSecurityPolicy allows only the node's own scripts, styles and
// images: no inline script or style, no CDN, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setSecurityHeaders sets the headers every response carries. A UI handler
// may tighten them; it should not loosen them.
func (s *Server) setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), serial=()")
	if s.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// outer runs before routing: security headers, the body bound, and
// problem documents for requests no route matches.
func (s *Server) outer(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setSecurityHeaders(w.Header())
		if r.ContentLength > s.opts.MaxBody {
			writeProblem(w, probTooLarge.with(r, fmt.Sprintf("the body may be at most %d bytes", s.opts.MaxBody)))
			return
		}
		// Past the bound a read fails (and the connection is closed), so a
		// client cannot make the node buffer an unbounded body.
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
		if _, pattern := mux.Handler(r); pattern == "" {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			s.unmatched(sw, r, mux)
			s.metrics.observeRequest("unmatched", sw.code(), time.Since(start))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// unmatched answers a request no route takes: 404, or 405 with Allow when
// the path exists for other methods.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	rec := httptest.NewRecorder()
	h, _ := mux.Handler(r)
	h.ServeHTTP(rec, r)
	if rec.Code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.Header().Get("Allow"))
		writeProblem(w, probMethod.with(r, fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, rec.Header().Get("Allow"))))
		return
	}
	writeProblem(w, probNotFound.with(r, "no such path; the API is described at /api/v1/openapi.json"))
}

// apiNotFound answers unknown paths under /api/v1/, with 405 when another
// method of the path is routed.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "" && !strings.HasSuffix(pattern, " /api/v1/") {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, probMethod.with(r, fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", "))))
		return
	}
	writeProblem(w, probNotFound.with(r, "no such API path; the API is described at /api/v1/openapi.json"))
}

// wrap is every route's middleware: panic recovery, metrics,
// authentication, the access rule, CSRF for cookie sessions, then the
// handler with the principal in its context.
func (s *Server) wrap(rt Route) http.Handler {
	key := rt.Key()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", slog.String("route", key), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if !sw.wrote {
					writeProblem(sw, probInternal.with(r, "the node could not complete the request; its log says why"))
				}
			}
			if !rt.Stream {
				s.metrics.observeRequest(key, sw.code(), time.Since(start))
			}
		}()
		var p *Principal
		if rt.Access.Kind != AccessPublic {
			var prob *Problem
			p, prob = s.authn.authenticate(sw, r)
			if prob != nil {
				writeProblem(sw, prob)
				return
			}
		}
		if !rt.Access.Allows(p) {
			switch {
			case p == nil && rt.Browser && isSafe(r.Method) && acceptsHTML(r):
				http.Redirect(sw, r, loginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			case p == nil:
				writeProblem(sw, probUnauth.with(r, "sign in (POST /api/v1/auth/login) or send Authorization: Bearer heir_tok_…"))
			default:
				writeProblem(sw, probForbidden.with(r, fmt.Sprintf("your roles (%s) do not grant the %q permission this needs", strings.Join(p.User.Roles, ", "), rt.Access.Permission)))
			}
			return
		}
		if p != nil && p.Via == ViaSession && !isSafe(r.Method) {
			if prob := s.checkCSRF(r, p); prob != nil {
				s.metrics.csrfRefused.Inc()
				writeProblem(sw, prob)
				return
			}
		}
		if p != nil {
			r = r.WithContext(withPrincipal(r.Context(), p))
		}
		rt.Handler.ServeHTTP(sw, r)
	})
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// statusWriter records the status a handler sent. Unwrap lets
// http.ResponseController reach the connection (flushes and per-write
// deadlines of event streams).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.status
}

// clientAddr is the client's IP address: the peer's, or, when the peer is
// a trusted proxy, the last X-Forwarded-For hop that is not one.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.proxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for _, h := range slices.Backward(hops) {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if net.ParseIP(h) == nil {
			break // garbage: stop believing the header
		}
		if !s.trusted(h) {
			return h
		}
	}
	return host
}

func (s *Server) trusted(host string) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range s.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
