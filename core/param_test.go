package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// TestParamMissing: c.Param with a name the route lacks ("roomID" on
// /ws/{room}) still returns "", as Echo's and Gin's Param do, but the log
// says so once, naming the parameter asked for and the route's parameters,
// and the error of Join("") says where the empty name came from.
func TestParamMissing(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		return c.Join(c.Param("roomID"))
	})
	for range 2 {
		c := wstest.Dial(t, s.url("lobby"))
		reason := c.ExpectClose(core.ClosePolicyViolation)
		for _, want := range []string{`invalid room name: ""`, `Param("roomID")`, `"room"`} {
			if !strings.Contains(reason, want) {
				t.Errorf("close reason %q does not contain %q", reason, want)
			}
		}
	}
	const warning = "the route has no parameter of that name"
	eventually(t, "the warning", func() bool { return strings.Contains(s.logs.String(), warning) })
	logs := s.logs.String()
	if n := strings.Count(logs, warning); n != 1 {
		t.Errorf("the missing parameter is logged %d times for two connections, want once:\n%s", n, logs)
	}
	for _, want := range []string{`param="\"roomID\""`, `route_params="\"room\""`, `Param(\"roomID\") returned \"\"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not contain %s:\n%s", want, logs)
		}
	}
}

// TestJoinEmpty: Join("") without a Param call before says the name is empty
// and what usually makes it so; Params never warns.
func TestJoinEmpty(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 1)
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		_ = c.Params()
		err := c.Join("")
		errc <- err
		return err
	})
	c := wstest.Dial(t, s.url("lobby"))
	c.ExpectClose(core.ClosePolicyViolation)
	err := <-errc
	if !errors.Is(err, core.ErrInvalidRoom) || !strings.Contains(err.Error(), "the name is empty") {
		t.Fatalf("Join(\"\") = %v, want ErrInvalidRoom saying the name is empty", err)
	}
	if logs := s.logs.String(); strings.Contains(logs, "no parameter of that name") {
		t.Errorf("Params logged a missing parameter:\n%s", logs)
	}
}
