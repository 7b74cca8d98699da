package adaptertest_test

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/adaptertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestNetHTTP runs the contract against hub.Handler on a Go 1.22
// ServeMux, the adapter of plain net/http users: no proxy settings and no
// framework values, so those cases are skipped.
func TestNetHTTP(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Adapter{
		Name:            "net/http",
		Pattern:         adaptertest.Prefix + "/ws/{room}/{id}",
		PostOnGetStatus: http.StatusMethodNotAllowed,
		Mount: func(t *testing.T, hub *core.Hub, app adaptertest.App) http.Handler {
			route := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get(adaptertest.HeaderRefuseRoute) != "" {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(adaptertest.RefuseStatus)
						_, _ = w.Write([]byte(`{"message":"refused by the route"}`))
						return
					}
					w.Header().Set(adaptertest.HeaderRoute, "ws")
					next.ServeHTTP(w, r)
				})
			}
			mux := http.NewServeMux()
			mux.Handle("GET "+adaptertest.Prefix+"/ws/{room}/{id}", route(hub.Handler(app.Handler, app.Middleware...)))
			mux.Handle("GET /ws/{room}/{id}", hub.Handler(app.Handler, app.Middleware...))
			mux.Handle(adaptertest.Prefix+"/any/{room}/{id}", route(hub.Handler(app.Handler, app.Middleware...)))
			mux.Handle("GET "+adaptertest.Prefix+"/admin/stats", core.StatsHandler(hub))
			mux.Handle("GET "+adaptertest.Prefix+"/admin/rooms", core.RoomsHandler(hub))
			mux.Handle("GET "+adaptertest.Prefix+"/admin/livez", core.LiveHandler(hub))
			mux.Handle("GET "+adaptertest.Prefix+"/admin/readyz", core.ReadyHandler(hub))
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(adaptertest.HeaderRefuse) != "" {
					http.Error(w, "refused in front", adaptertest.RefuseStatus)
					return
				}
				w.Header().Set(adaptertest.HeaderGroup, "api")
				mux.ServeHTTP(w, r)
			})
		},
	})
}
