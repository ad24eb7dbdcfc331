package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	RequestBody *struct{ Required bool }   `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Security    *[]map[string][]string     `json:"security"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

func loadOpenAPI(t *testing.T) (doc map[string]any, paths map[string]map[string]json.RawMessage) {
	t.Helper()
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", d.OpenAPI)
	}
	return doc, d.Paths
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// apiRoutes are the routes RegisterAPI registers, as "METHOD /path/{param}".
func apiRoutes(t *testing.T) []string {
	t.Helper()
	e := echo.New()
	(&Handler{}).RegisterAPI(e.Group("/api/v1"))
	var out []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// documented lists the operations of openapi.json as "METHOD /path/{param}".
func documented(t *testing.T, paths map[string]map[string]json.RawMessage) map[string]openAPIOperation {
	t.Helper()
	out := map[string]openAPIOperation{}
	for p, item := range paths {
		for m, raw := range item {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", m, p, err)
			}
			out[strings.ToUpper(m)+" "+p] = op
		}
	}
	return out
}

// Every route the API registers is described in openapi.json with that method, and the document
// describes nothing the API does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	_, paths := loadOpenAPI(t)
	ops := documented(t, paths)
	routes := apiRoutes(t)
	if len(routes) < 10 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for _, r := range routes {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not described in openapi.json", r)
		}
	}
	for op := range ops {
		if !slices.Contains(routes, op) {
			t.Errorf("openapi.json describes %s, which is not a route", op)
		}
	}
}

// The document is consistent with how the handlers answer: every path parameter is declared, every
// operation has a unique id, every tenant route declares the authentication answers (401/403/404),
// every route with a JSON body declares 400/413/415 and the problem schema, and every $ref resolves.
func TestOpenAPIDescribesHandlers(t *testing.T) {
	doc, paths := loadOpenAPI(t)
	ops := documented(t, paths)
	ids := map[string]string{}
	for key, op := range ops {
		method, path, _ := strings.Cut(key, " ")
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("operationId %q used by %s and %s", op.OperationID, other, key)
		}
		ids[op.OperationID] = key

		// Path parameters: declared on the path item or the operation.
		var declared []string
		var itemParams []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		}
		if raw, ok := paths[path]["parameters"]; ok {
			if err := json.Unmarshal(raw, &itemParams); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range append(itemParams, op.Parameters...) {
			if p.In == "path" {
				declared = append(declared, p.Name)
			}
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !slices.Contains(declared, m[1]) {
				t.Errorf("%s: path parameter %q is not declared", key, m[1])
			}
		}

		has2xx := false
		for code := range op.Responses {
			has2xx = has2xx || strings.HasPrefix(code, "2")
		}
		if !has2xx {
			t.Errorf("%s: no success response", key)
		}
		if strings.HasPrefix(path, "/api/v1/tenants/") {
			for _, code := range []string{"401", "403", "404"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: response %s is not described", key, code)
				}
			}
			if op.Security != nil && len(*op.Security) == 0 {
				t.Errorf("%s: a tenant route must not be documented as public", key)
			}
		} else if op.Security == nil || len(*op.Security) != 0 {
			t.Errorf("%s: served without a token, so it should say security: []", key)
		}
		if method == "PUT" || method == "POST" || method == "PATCH" {
			if op.RequestBody == nil || !op.RequestBody.Required {
				t.Errorf("%s: the JSON body is not described as required", key)
			}
			for _, code := range []string{"400", "413", "415"} {
				raw, ok := op.Responses[code]
				if !ok {
					t.Errorf("%s: response %s is not described", key, code)
					continue
				}
				if !strings.Contains(string(raw), "application/problem+json") {
					t.Errorf("%s: response %s is not a problem document", key, code)
				}
			}
		}
	}

	// Every $ref points at something in the document.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && k == "$ref" {
					if !resolves(doc, s) {
						t.Errorf("$ref %q does not resolve", s)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
}

func resolves(doc map[string]any, ref string) bool {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// The document itself is served at /api/v1/openapi.json without a token, byte for byte.
func TestOpenAPIServed(t *testing.T) {
	e := echo.New()
	(&Handler{}).RegisterAPI(e.Group("/api/v1"))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(openAPIDoc) {
		t.Error("the served document differs from openapi.json")
	}
}
