package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/heir-emd/heir/internal/server"
)

// api calls the node's JSON API in-process, as the browser that made the
// page request: its cookie (or bearer token) goes with every sub-request,
// so the API decides what the user may see and do.
type api struct {
	h atomic.Pointer[http.Handler]
}

// errNoAPI: SetAPI was not called (a wiring mistake).
var errNoAPI = errors.New("the UI is not connected to the node's API")

// apiError is an API answer other than 2xx, with its problem document.
type apiError struct {
	Status  int
	Problem server.Problem
}

func (e *apiError) Error() string {
	if e.Problem.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Problem.Title, e.Problem.Detail)
	}
	return fmt.Sprintf("API answered %d", e.Status)
}

// maxAPIBody bounds an API answer the UI reads: the largest page the
// UI asks for is a few hundred records.
const maxAPIBody = 16 << 20

// forwarded are the request headers a sub-request keeps: credentials,
// what the server's origin check and client-address logic read, and the
// user agent for its logs.
var forwarded = []string{"Cookie", "Authorization", "Origin", "Sec-Fetch-Site", "X-Forwarded-For", "User-Agent"}

// do sends one sub-request and decodes a JSON answer into out (nil: the
// body is dropped).
func (a *api) do(r *http.Request, method, path string, q url.Values, body, out any) error {
	_, err := a.call(r, method, path, q, body, out)
	return err
}

// doSession is do for a call that replaces the user's session (a password
// change starts a new one): the answer's cookies go to the browser.
func (a *api) doSession(w http.ResponseWriter, r *http.Request, method, path string, body, out any) error {
	rec, err := a.call(r, method, path, nil, body, out)
	if err != nil {
		return err
	}
	for _, c := range rec.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
	return nil
}

// call sends one sub-request, decodes a JSON answer into out (nil: the
// body is dropped) and returns the recorded answer.
func (a *api) call(r *http.Request, method, path string, q url.Values, body, out any) (*recorder, error) {
	hp := a.h.Load()
	if hp == nil {
		return nil, errNoAPI
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	sub, err := http.NewRequestWithContext(r.Context(), method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("sub-request %s %s: %w", method, path, err)
	}
	sub.Host, sub.RemoteAddr, sub.TLS = r.Host, r.RemoteAddr, r.TLS
	for _, h := range forwarded {
		for _, v := range r.Header.Values(h) {
			sub.Header.Add(h, v)
		}
	}
	sub.Header.Set("Accept", "application/json")
	if body != nil {
		sub.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead {
		// The user's form passed the CSRF check; the sub-request carries
		// the token the API checks on every unsafe method, bodiless
		// DELETEs included.
		if tok := server.CSRFToken(r); tok != "" {
			sub.Header.Set(server.CSRFHeader, tok)
		}
	}
	rec := newRecorder(maxAPIBody)
	(*hp).ServeHTTP(rec, sub)
	if rec.overflow {
		return nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, maxAPIBody)
	}
	if rec.status < 200 || rec.status > 299 {
		e := &apiError{Status: rec.status}
		_ = json.Unmarshal(rec.body.Bytes(), &e.Problem) // a body that is no problem document leaves the status
		return nil, e
	}
	if out == nil {
		return rec, nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return rec, nil
}

func (a *api) get(r *http.Request, path string, q url.Values, out any) error {
	return a.do(r, http.MethodGet, path, q, nil, out)
}

// recorder is a bounded in-memory ResponseWriter for sub-requests.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	limit    int
	overflow bool
}

func newRecorder(limit int) *recorder { return &recorder{header: http.Header{}, limit: limit} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(b) > w.limit {
		w.overflow = true
		return 0, errors.New("sub-request answer too large")
	}
	return w.body.Write(b)
}

// pathID escapes an id for a path segment.
func pathID(id string) string { return url.PathEscape(id) }

// problemText is what a page says about a failed API call.
func problemText(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		d := ae.Problem.Detail
		if d == "" {
			d = http.StatusText(ae.Status)
		}
		return strings.TrimSuffix(d, ".") + "."
	}
	return "The node could not answer; its log says why."
}

// listPage is one page of a list page's items.
type listPage[T any] struct {
	server.List[T]
	// Next links to the following page with the same filters ("" on the
	// last page).
	Next string
	// Problem is the API's reason for refusing a filter (a 400), shown
	// beside the form rather than losing it.
	Problem string
}

// getList reads one page of a list for a page whose query is q.
func getList[T any](a *api, r *http.Request, path string, aq, q url.Values) (listPage[T], error) {
	var p listPage[T]
	err := a.get(r, path, aq, &p.List)
	switch {
	case isStatus(err, http.StatusBadRequest):
		p.Problem = problemText(err)
	case err != nil:
		return p, err
	}
	if p.List.Next != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", p.List.Next)
		p.Next = "?" + nq.Encode()
	}
	return p, nil
}

// listStatus is a list page's status: 400 when the API refused a filter.
func listStatus(problem string) int {
	if problem != "" {
		return http.StatusBadRequest
	}
	return http.StatusOK
}
