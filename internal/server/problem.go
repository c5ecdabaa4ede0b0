package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/heir-emd/heir/internal/store"
)

// ProblemBase is the namespace of heir's problem types. The URIs name a
// kind of problem; docs/api.md lists them (they need not resolve).
const ProblemBase = "https://heir-emd.github.io/problems/"

// Problem is an RFC 9457 problem details document, the body of every
// error response (Content-Type application/problem+json).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists the fields a request got wrong (an extension member).
	Errors []FieldError `json:"errors,omitempty"`
	// RetryAfter repeats the Retry-After header, in seconds, for clients
	// that read only bodies (an extension member).
	RetryAfter int `json:"retry_after,omitempty"`
}

// FieldError is one invalid input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem kinds. The title is fixed per kind; the detail says what went
// wrong this time and what to do.
var (
	probBadRequest   = problemKind{"bad-request", "The request is not valid", http.StatusBadRequest}
	probUnauth       = problemKind{"unauthenticated", "Authentication required", http.StatusUnauthorized}
	probForbidden    = problemKind{"forbidden", "Not allowed", http.StatusForbidden}
	probCSRF         = problemKind{"csrf", "Cross-site request refused", http.StatusForbidden}
	probNotFound     = problemKind{"not-found", "Not found", http.StatusNotFound}
	probMethod       = problemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed}
	probConflict     = problemKind{"conflict", "Conflict", http.StatusConflict}
	probTooLarge     = problemKind{"too-large", "Request body too large", http.StatusRequestEntityTooLarge}
	probMediaType    = problemKind{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType}
	probRateLimited  = problemKind{"rate-limited", "Too many attempts", http.StatusTooManyRequests}
	probInternal     = problemKind{"internal", "Internal error", http.StatusInternalServerError}
	probUnavailable  = problemKind{"unavailable", "Service unavailable", http.StatusServiceUnavailable}
	probNotAvailable = problemKind{"not-implemented", "Not available on this node", http.StatusNotImplemented}
)

type problemKind struct {
	slug   string
	title  string
	status int
}

func (k problemKind) with(r *http.Request, detail string) *Problem {
	p := &Problem{Type: ProblemBase + k.slug, Title: k.title, Status: k.status, Detail: detail}
	if r != nil {
		// The path only: a query string can hold cursors and filters
		// that are no business of a log or an error tracker.
		p.Instance = r.URL.Path
	}
	return p
}

// writeProblem sends p. Problems are never cached.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="heir"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) // the client went away: nothing to do
}

// fail maps err to a problem: store and input errors to 4xx with their
// message, anything else to a 500 whose detail names no internals (the
// error is logged instead).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	var inv *inputError
	switch {
	case errors.As(err, &inv):
		p = probBadRequest.with(r, inv.Error())
		p.Errors = inv.fields
	case errors.Is(err, errMediaType):
		p = probMediaType.with(r, "send the body as JSON with Content-Type: application/json")
	case errors.Is(err, errTooLarge):
		p = probTooLarge.with(r, fmt.Sprintf("JSON bodies may be at most %d bytes", maxJSONBody))
	case errors.Is(err, store.ErrNotFound):
		p = probNotFound.with(r, err.Error())
	case errors.Is(err, store.ErrConflict):
		p = probConflict.with(r, err.Error())
	case errors.Is(err, store.ErrInvalid):
		p = probBadRequest.with(r, err.Error())
	case errors.Is(err, store.ErrBadCursor):
		p = probBadRequest.with(r, err.Error()+"; restart from the first page (omit cursor)")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return
	case errors.Is(err, context.DeadlineExceeded):
		p = probUnavailable.with(r, "the request took too long; try again or narrow it")
	default:
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		p = probInternal.with(r, "the node could not complete the request; its log says why")
	}
	writeProblem(w, p)
}

// inputError is a request the handler refuses, with the fields at fault.
type inputError struct {
	msg    string
	fields []FieldError
}

func (e *inputError) Error() string { return e.msg }

func badInput(field, format string, args ...any) error {
	d := fmt.Sprintf(format, args...)
	return &inputError{msg: field + ": " + d, fields: []FieldError{{Field: field, Detail: d}}}
}
