package core

import (
	"fmt"
	"strings"
	"sync"
)

// paramWarnings remembers which missing route parameters a hub has logged,
// so that a typo in a route handler is reported once, not once per
// connection, and, per set of route parameters, the name last asked for, so
// that Join("") can say where an empty name came from. It lives in the hub,
// not in each Conn: a route handler's code is the same for every
// connection of its route, and an idle connection keeps nothing for it.
type paramWarnings struct {
	mu      sync.Mutex
	logged  map[string]struct{} // name "\x00" route parameter names
	missing map[string]string   // route parameter names: the name last asked for
}

// maxParamWarnings bounds the names remembered: names come from code, so a
// few suffice, and a name built from user input cannot grow the map.
const maxParamWarnings = 64

// note records that Param was asked for name on a route whose parameters
// are have, and reports whether that is the first time, to be logged.
func (w *paramWarnings) note(name, have string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.missing[have]; ok || len(w.missing) < maxParamWarnings {
		if w.missing == nil {
			w.missing = make(map[string]string)
		}
		w.missing[have] = name
	}
	key := name + "\x00" + have
	if _, ok := w.logged[key]; ok || len(w.logged) >= maxParamWarnings {
		return false
	}
	if w.logged == nil {
		w.logged = make(map[string]struct{})
	}
	w.logged[key] = struct{}{}
	return true
}

// lastMissing returns the name Param was last asked for on a route whose
// parameters are have and which it lacks, or "".
func (w *paramWarnings) lastMissing(have string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.missing[have]
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
	have := c.paramNames()
	if !c.hub.missingParams.note(name, have) {
		return
	}
	if have == "" {
		have = "none"
	}
	c.hub.log.Warn("rushws: Conn.Param: the route has no parameter of that name; Param returns \"\" (check the name against the route's pattern, or use Params for an optional parameter)",
		"param", quoteName(name), "route_params", have, "conn", c.id)
}

// emptyRoomError is Join's error for an empty room name: it says the name is
// empty and, when a route handler of a route with the same parameters asked
// Param for one the route lacks, that this is where the empty name most
// likely came from.
func (c *Conn) emptyRoomError() error {
	have := c.paramNames()
	missing := c.hub.missingParams.lastMissing(have)
	if missing == "" {
		return invalidRoom("")
	}
	if have == "" {
		have = "none"
	}
	return fmt.Errorf(`%w: "" (empty: Param(%s) returned "" because the route has no such parameter; route parameters: %s)`, ErrInvalidRoom, quoteName(missing), have)
}
