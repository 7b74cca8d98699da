package runtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/rushws/rushws/examples/internal/runtest"
)

// A run function in the shape Run checks: serve until the signal, then
// shut down (an app with WebSockets shuts its hub down first).
func ExampleRunFunc() {
	var run runtest.RunFunc = func(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
		srv := &http.Server{Handler: http.NotFoundHandler()}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		<-ctx.Done()
		if err := srv.Shutdown(context.Background()); err != nil {
			return err
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal, at once
	fmt.Println(run(ctx, ln, slog.New(slog.DiscardHandler)))
	// Output: <nil>
}
