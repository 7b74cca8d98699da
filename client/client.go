package client

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the client files
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed rushws.js
var script []byte

//go:embed rushws.d.ts
var types []byte

// immutableCacheControl is sent for a URL whose "v" names this build of the
// file: that URL's content can never change.
const immutableCacheControl = "public, max-age=31536000, immutable"

// revalidateCacheControl is sent for any other URL: the copy may be kept
// but is checked (cheaply, with If-None-Match) before each use.
const revalidateCacheControl = "no-cache"

// asset is one embedded file with its content type and hash.
type asset struct {
	body        []byte
	contentType string
	version     string // first 16 hex digits of the SHA-256
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, contentType: contentType, version: hex.EncodeToString(sum[:8])}
}

var (
	scriptAsset = newAsset(script, "text/javascript; charset=utf-8")
	typesAsset  = newAsset(types, "application/typescript; charset=utf-8")
)

// Version returns a short hash of rushws.js (16 hex digits). Put it in the
// URL a page imports the client from ("/rushws.js?v=" + Version()) and
// browsers may cache that URL for a year, since a changed file gets a new
// version and so a new URL.
func Version() string { return scriptAsset.version }

// Script returns a copy of rushws.js, for apps that serve or bundle it
// their own way.
func Script() []byte { return bytes.Clone(script) }

// Types returns a copy of rushws.d.ts, the TypeScript declarations for
// rushws.js.
func Types() []byte { return bytes.Clone(types) }

// Handler returns an http.Handler that serves rushws.js on whatever route
// it is mounted on, for GET and HEAD (others get 405). Its ETag is the
// file's hash, so If-None-Match gets 304; a URL with ?v=Version() is
// cacheable for a year, any other is revalidated on each use.
func Handler() http.Handler { return scriptAsset }

// TypesHandler returns an http.Handler that serves rushws.d.ts the way
// Handler serves rushws.js, for tools that fetch the declarations from the
// app.
func TypesHandler() http.Handler { return typesAsset }

// ServeHTTP serves the asset.
func (a asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", immutableCacheControl)
	} else {
		h.Set("Cache-Control", revalidateCacheControl)
	}
	// ServeContent answers If-None-Match with 304 (and ranges), from the
	// ETag set above; the zero time leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
