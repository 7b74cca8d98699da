package echo5ws_test

import (
	"log/slog"
	"testing"

	"github.com/labstack/echo/v5"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newEcho returns an Echo v5 app whose logger writes into the returned
// buffer rather than to stdout.
func newEcho(t *testing.T) (*echo.Echo, *wstest.LogBuffer) {
	t.Helper()
	e := echo.New()
	logs := &wstest.LogBuffer{}
	e.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return e, logs
}
