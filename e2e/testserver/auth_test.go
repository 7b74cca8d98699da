package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// The routes e2e/node/auth.test.mjs and e2e/auth.mjs rely on: a removed
// user is closed with 4401 "user removed", now and on later handshakes;
// /ws/auth/strict refuses with 401 before the upgrade; both count
// handshakes per ?client=.
func TestAuthRoutes(t *testing.T) {
	t.Parallel()
	srv := serve(t)
	tok := func(sub, ttl string) string {
		t.Helper()
		body := get(t, srv, "/token?sub="+sub+"&ttl="+ttl, http.StatusOK)
		if body == get(t, srv, "/token?sub="+sub+"&ttl="+ttl, http.StatusOK) {
			t.Fatal("two tokens issued in the same second are equal; their jti should differ")
		}
		return body
	}
	bearer := func(tok string) wstest.Option {
		return wstest.WithSubprotocols("e2e.v1", "bearer."+tok)
	}

	live := wstest.Dial(t, srv.URL+"/ws/auth/users?client=a", bearer(tok("bob", "1m")))
	live.Expect("welcome")
	post(t, srv, "/users/remove?sub=bob", http.StatusNoContent)
	if reason := live.ExpectClose(core.CloseUnauthorized); reason != "user removed" {
		t.Fatalf("the removed user's connection closed with %q, want \"user removed\"", reason)
	}
	again := wstest.Dial(t, srv.URL+"/ws/auth/users?client=a", bearer(tok("bob", "1m")))
	if reason := again.ExpectClose(core.CloseUnauthorized); reason != "user removed" {
		t.Fatalf("a removed user's new connection closed with %q, want \"user removed\"", reason)
	}
	other := wstest.Dial(t, srv.URL+"/ws/auth/users?client=b", bearer(tok("ada", "1m")))
	other.Expect("welcome")

	_, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws/auth/strict?client=c", bearer(tok("ada", "-1m")))
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("an expired token on /ws/auth/strict: status %d, err %v; want 401 before the upgrade", status, err)
	}

	for client, want := range map[string]int{"a": 2, "b": 1, "c": 1, "nobody": 0} {
		var got struct{ Attempts int }
		if err := json.Unmarshal([]byte(get(t, srv, "/api/attempts?client="+client, http.StatusOK)), &got); err != nil {
			t.Fatal(err)
		}
		if got.Attempts != want {
			t.Errorf("attempts of %q = %d, want %d", client, got.Attempts, want)
		}
	}
	post(t, srv, "/users/remove", http.StatusBadRequest)
}

func get(t *testing.T, srv *httptest.Server, path string, want int) string {
	t.Helper()
	return do(t, srv, http.MethodGet, path, want)
}

func post(t *testing.T, srv *httptest.Server, path string, want int) string {
	t.Helper()
	return do(t, srv, http.MethodPost, path, want)
}

func do(t *testing.T, srv *httptest.Server, method, path string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %q, want %d", method, path, resp.Status, body, want)
	}
	return string(body)
}
