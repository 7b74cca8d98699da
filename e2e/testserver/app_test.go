package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// -app-dir serves a built frontend under /app/ (e2e/package.sh serves
// e2e/vite's build there); without it there is no /app/ route.
func TestMountApp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"index.html": "<!doctype html><p>app</p>", "assets/index.js": "export {};"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, h http.Handler, path string) (int, string) {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	mux := http.NewServeMux()
	mountApp(mux, dir)
	for path, want := range map[string]string{"/app/": files["index.html"], "/app/assets/index.js": files["assets/index.js"]} {
		if code, body := get(t, mux, path); code != http.StatusOK || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}
	if code, _ := get(t, mux, "/app/missing.js"); code != http.StatusNotFound {
		t.Errorf("GET /app/missing.js = %d, want 404", code)
	}

	none := http.NewServeMux()
	mountApp(none, "")
	if code, _ := get(t, none, "/app/"); code != http.StatusNotFound {
		t.Errorf("without a directory, GET /app/ = %d, want 404", code)
	}
}
