package core

import (
	"fmt"
	"strings"
	"sync"
)

// paramWarnings remembers which missing route parameters a hub has logged,
// so that a typo in a route handler is reported once, not once per
// connection.
type paramWarnings struct {
	mu     sync.Mutex
	logged map[string]struct{} // name "\x00" route parameter names
}

// maxParamWarnings bounds the names remembered: names come from code, so a
// few suffice, and a name built from user input cannot grow the map.
const maxParamWarnings = 64

// first reports whether key is seen for the first time, remembering it.
func (w *paramWarnings) first(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.logged[key]; ok || len(w.logged) >= maxParamWarnings {
		return false
	}
	if w.logged == nil {
		w.logged = make(map[string]struct{})
	}
	w.logged[key] = struct{}{}
	return true
}

// paramNames lists the route's parameter names for messages: "" when the
// route has none.
func (c *Conn) paramNames() string {
	names := make([]string, len(c.params))
	for i, p := range c.params {
		names[i] = quoteName(p.Name)
	}
	return strings.Join(names, ", ")
}

// paramMissing records that Param was asked for a name the route lacks and
// logs it, once per hub for each name and set of route parameters.
func (c *Conn) paramMissing(name string) {
	c.mu.Lock()
	c.missingParam = name
	c.mu.Unlock()
	have := c.paramNames()
	if !c.hub.missingParams.first(name + "\x00" + have) {
		return
	}
	if have == "" {
		have = "none"
	}
	c.hub.log.Warn("rushws: Conn.Param: the route has no parameter of that name; Param returns \"\" (check the name against the route's pattern, or use Params for an optional parameter)",
		"param", quoteName(name), "route_params", have, "conn", c.id)
}

// emptyRoomError is Join's error for an empty room name: it says the name is
// empty and, when the route handler asked Param for a parameter the route
// lacks, that this is where the empty name most likely came from.
func (c *Conn) emptyRoomError() error {
	c.mu.Lock()
	missing := c.missingParam
	c.mu.Unlock()
	if missing == "" {
		return invalidRoom("")
	}
	have := c.paramNames()
	if have == "" {
		have = "none"
	}
	return fmt.Errorf(`%w: "" (empty: Param(%s) returned "" because the route has no such parameter; route parameters: %s)`, ErrInvalidRoom, quoteName(missing), have)
}
