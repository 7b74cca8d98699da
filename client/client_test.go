package client_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/client"
)

// mounts are the ways an app serves the client: on net/http, Echo and Gin,
// each on a route of its own choosing.
var mounts = []struct {
	name  string
	path  string
	build func(path string, h http.Handler) http.Handler
}{
	{"net/http", "/rushws.js", func(path string, h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle(path, h)
		return mux
	}},
	{"echo", "/static/js/rushws.js", func(path string, h http.Handler) http.Handler {
		e := echo.New()
		e.GET(path, echo.WrapHandler(h))
		e.HEAD(path, echo.WrapHandler(h))
		return e
	}},
	{"gin", "/assets/client.js", func(path string, h http.Handler) http.Handler {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		r.GET(path, gin.WrapH(h))
		r.HEAD(path, gin.WrapH(h))
		return r
	}},
}

func get(t *testing.T, srv *httptest.Server, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHandler(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256(client.Script())
	wantETag := `"` + hex.EncodeToString(sum[:8]) + `"`
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			srv := httptest.NewServer(m.build(m.path, client.Handler()))
			defer srv.Close()

			tests := []struct {
				name         string
				method, path string
				header       http.Header
				status       int
				cacheControl string
				body         bool
			}{
				{"get", "GET", m.path, nil, http.StatusOK, "no-cache", true},
				{"versioned", "GET", m.path + "?v=" + client.Version(), nil, http.StatusOK, "public, max-age=31536000, immutable", true},
				{"other version", "GET", m.path + "?v=0123456789abcdef", nil, http.StatusOK, "no-cache", true},
				{"head", "HEAD", m.path, nil, http.StatusOK, "no-cache", false},
				{"if-none-match", "GET", m.path, http.Header{"If-None-Match": {wantETag}}, http.StatusNotModified, "no-cache", false},
				{"if-none-match versioned", "GET", m.path + "?v=" + client.Version(), http.Header{"If-None-Match": {wantETag}}, http.StatusNotModified, "public, max-age=31536000, immutable", false},
				{"stale etag", "GET", m.path, http.Header{"If-None-Match": {`"0000000000000000"`}}, http.StatusOK, "no-cache", true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp, body := get(t, srv, tt.method, tt.path, tt.header)
					if resp.StatusCode != tt.status {
						t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
					}
					if got := resp.Header.Get("ETag"); got != wantETag {
						t.Errorf("ETag %q, want %q", got, wantETag)
					}
					if got := resp.Header.Get("Cache-Control"); got != tt.cacheControl {
						t.Errorf("Cache-Control %q, want %q", got, tt.cacheControl)
					}
					if tt.status == http.StatusOK {
						if got := resp.Header.Get("Content-Type"); got != "text/javascript; charset=utf-8" {
							t.Errorf("Content-Type %q, want text/javascript", got)
						}
						if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
							t.Errorf("X-Content-Type-Options %q, want nosniff", got)
						}
					}
					if tt.body && !bytes.Equal(body, client.Script()) {
						t.Errorf("body is %d bytes, not rushws.js (%d bytes)", len(body), len(client.Script()))
					}
					if !tt.body && len(body) != 0 {
						t.Errorf("body is %d bytes, want none", len(body))
					}
				})
			}
		})
	}
}

func TestHandlerRefusesOtherMethods(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(client.Handler())
	defer srv.Close()
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			resp, _ := get(t, srv, method, "/rushws.js", nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s: %s, Allow %q; want 405 with Allow: GET, HEAD", method, resp.Status, resp.Header.Get("Allow"))
			}
		})
	}
}

func TestTypesHandler(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(client.TypesHandler())
	defer srv.Close()
	resp, body := get(t, srv, "GET", "/rushws.d.ts", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, client.Types()) {
		t.Fatalf("GET: %s with %d bytes, want 200 with rushws.d.ts", resp.Status, len(body))
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/typescript") {
		t.Errorf("Content-Type %q, want application/typescript", resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := get(t, srv, "GET", "/rushws.d.ts", http.Header{"If-None-Match": {etag}}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match %s: %s, want 304", etag, resp.Status)
	}
}

// The files are what the package says: an ES module exporting connect, and
// declarations for it.
func TestFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file []byte
		want []string
	}{
		{"script", client.Script(), []string{"export function connect(", "export class Client", "export class RushwsError", "emitWithAck(", "4401",
			// connection state recovery: the query parameter, the recover message, the reserved names
			`"rushws_recover=1"`, `event: "recover"`, `"session", "recover"`, "sessionStorageKey"}},
		{"types", client.Types(), []string{"export function connect<", "emitWithAck<", "export class RushwsError",
			"recovered: boolean", "missed: number", "reason?: RecoveryFailure", `"session" | "recover"`, "sessionStorageKey?: string", "recoverTimeout?: number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !bytes.Contains(tt.file, []byte(w)) {
					t.Errorf("file has no %q", w)
				}
			}
		})
	}
	if v := client.Version(); len(v) != 16 {
		t.Errorf("Version() = %q, want 16 hex digits", v)
	}
	// Script returns a copy: changing it changes nothing served.
	s := client.Script()
	s[0] ^= 0xff
	if bytes.Equal(s, client.Script()) {
		t.Error("Script() returned the embedded slice itself")
	}
}
