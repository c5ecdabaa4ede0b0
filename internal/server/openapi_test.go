package server

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The document as the tests read it: parsed once, schemas compiled on
// demand by JSON pointer (OpenAPI 3.1 schemas are JSON Schema 2020-12).
var (
	docOnce   sync.Once
	docErr    error
	doc       map[string]any
	compiler  *jsonschema.Compiler
	schemaMu  sync.Mutex
	schemas   = map[string]*jsonschema.Schema{}
	docURL    = "mem://heir/openapi.json"
	httpVerbs = []string{"get", "post", "put", "patch", "delete"}
)

func loadDoc(t testing.TB) map[string]any {
	t.Helper()
	docOnce.Do(func() {
		b, err := OpenAPIJSON()
		if err != nil {
			docErr = err
			return
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			docErr = err
			return
		}
		doc = v.(map[string]any)
		compiler = jsonschema.NewCompiler()
		compiler.DefaultDraft(jsonschema.Draft2020)
		compiler.AssertFormat()
		docErr = compiler.AddResource(docURL, v)
	})
	if docErr != nil {
		t.Fatalf("openapi document: %v", docErr)
	}
	return doc
}

func schemaAt(t testing.TB, ptr string) *jsonschema.Schema {
	t.Helper()
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemas[ptr]; ok {
		return s
	}
	s, err := compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compile schema %s: %v", ptr, err)
	}
	schemas[ptr] = s
	return s
}

func esc(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

// lookup follows a JSON pointer in the document.
func lookup(ptr string) (any, bool) {
	var v any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkResponse checks an answer against the document: the route is
// documented, the status is documented for it, the content type is the
// documented one, and a JSON body matches the documented schema.
func checkResponse(t *testing.T, s *Server, r *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	loadDoc(t)
	_, pattern := s.mux.Handler(r)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || path == "/" || path == "/api/v1/" {
		return // the UI mount and unknown paths are not the API
	}
	opPtr := "/paths/" + esc(path) + "/" + strings.ToLower(method)
	if _, ok := lookup(opPtr); !ok {
		t.Errorf("%s: route not in the OpenAPI document", pattern)
		return
	}
	respPtr := opPtr + "/responses/" + strconv.Itoa(resp.StatusCode)
	rv, ok := lookup(respPtr)
	if !ok {
		t.Errorf("%s answered %d, which the document does not list: %.300s", pattern, resp.StatusCode, body)
		return
	}
	if ref, ok := rv.(map[string]any)["$ref"].(string); ok {
		respPtr = strings.TrimPrefix(ref, "#")
		rv, _ = lookup(respPtr)
	}
	content, _ := rv.(map[string]any)["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) > 0 && resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			t.Errorf("%s %d: undocumented body %.200s", pattern, resp.StatusCode, body)
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if _, ok := content[mt]; !ok {
		t.Errorf("%s %d: content type %q, documented %v", pattern, resp.StatusCode, mt, keys(content))
		return
	}
	if mt != "application/json" && mt != "application/problem+json" {
		return
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s %d: body is not JSON: %v", pattern, resp.StatusCode, err)
		return
	}
	if err := schemaAt(t, respPtr+"/content/"+esc(mt)+"/schema").Validate(v); err != nil {
		t.Errorf("%s %d: body does not match the documented schema: %v\n%.500s", pattern, resp.StatusCode, err, body)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesRoutes: every route is documented with its method
// and access rule, and every documented operation is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	loadDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	routed := map[string]Route{}
	for _, rt := range e.srv.Routes() {
		routed[strings.ToLower(rt.Method)+" "+rt.Pattern] = rt
	}
	documented := map[string]bool{}
	paths := doc["paths"].(map[string]any)
	for p, item := range paths {
		for _, m := range httpVerbs {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			k := m + " " + p
			documented[k] = true
			rt, ok := routed[k]
			if !ok {
				t.Errorf("documented %s is not routed", k)
				continue
			}
			want := rt.Access.String()
			if rt.Access.Kind == AccessPermission {
				want = "permission:" + string(rt.Access.Permission)
			}
			if got := op["x-heir-access"]; got != want {
				t.Errorf("%s: documented access %v, routed %s", k, got, want)
			}
			sec, hasSec := op["security"].([]any)
			if public := rt.Access.Kind == AccessPublic; public != (hasSec && len(sec) == 0) {
				t.Errorf("%s: security %v does not fit access %s", k, op["security"], want)
			}
			if _, ok := op["operationId"].(string); !ok {
				t.Errorf("%s: no operationId", k)
			}
		}
	}
	for k := range routed {
		if !documented[k] {
			t.Errorf("route %s is not in the document", k)
		}
	}
	// Every schema the document defines compiles.
	for name := range doc["components"].(map[string]any)["schemas"].(map[string]any) {
		schemaAt(t, "/components/schemas/"+name)
	}
	// Both forms are served and say the same.
	var j map[string]any
	e.get("viewer", "/api/v1/openapi.json", &j)
	if fmt.Sprint(j["paths"].(map[string]any)["/api/v1/overview"]) != fmt.Sprint(paths["/api/v1/overview"]) {
		t.Error("served JSON differs from the embedded document")
	}
	resp, b := e.do(req{method: "GET", path: "/api/v1/openapi.yaml", as: "viewer"})
	if resp.StatusCode != 200 || !bytes.Equal(b, OpenAPIYAML) {
		t.Errorf("openapi.yaml: %d", resp.StatusCode)
	}
}

// TestSchemasRefuse makes sure the validator bites: documents that break
// the schemas are refused.
func TestSchemasRefuse(t *testing.T) {
	loadDoc(t)
	for ptr, bad := range map[string]string{
		"/components/schemas/Problem":      `{"type":"x","title":"t","status":200}`,
		"/components/schemas/Overview":     `{"generated":"2026-01-01T00:00:00Z"}`,
		"/components/schemas/AssetList":    `{"items":[{"v":1,"type":"asset","id":"a","peers":0,"first_seen":"yesterday","last_seen":"2026-01-01T00:00:00Z"}]}`,
		"/components/schemas/CreatedToken": `{"token":{"id":"1","name":"n","owner":"o","created":"2026-01-01T00:00:00Z"},"secret":"heir_ses_x"}`,
		"/components/schemas/Finding":      `{"v":1,"type":"finding","id":"f","state":"maybe"}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if schemaAt(t, ptr).Validate(v) == nil {
			t.Errorf("%s accepted %s", ptr, bad)
		}
	}
	if !slices.Contains(httpVerbs, "patch") {
		t.Fatal("verbs")
	}
}
