package core

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rushws/rushws/internal/quote"
)

// room is a named set of connections. members indexes list, which is
// copied before a change once a broadcast has taken it (copy on write), so
// broadcasts iterate without holding a lock.
type room struct {
	name     string
	created  time.Time
	activity atomic.Int64  // unix nanoseconds of the last join, leave or send
	members  map[*Conn]int // index of list; nil while the room is small (a scan of list is cheaper)
	list     []*Conn
	shared   atomic.Bool // list is held by a broadcast
}

// RoomInfo describes a room at one moment.
type RoomInfo struct {
	// Name is the room's name.
	Name string `json:"name"`
	// Members is the number of connections of this hub in the room.
	Members int `json:"members"`
	// Created is when the room was created, at its first join.
	Created time.Time `json:"created"`
	// LastActivity is the time of the last join, leave or send.
	LastActivity time.Time `json:"lastActivity"`
	// Conns lists members (ID, IP, user agent, rooms, times), when asked
	// for: RoomsHandler fills it with ?members=1, up to its limit, and
	// Hub.Members gives the same list. Nil otherwise.
	Conns []*Conn `json:"conns,omitempty"`
}

// ValidRoomName reports whether name may be used as a room: 1 to 256 bytes
// of valid UTF-8 without control characters.
func ValidRoomName(name string) bool {
	if len(name) == 0 || len(name) > 256 || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (r *room) touch() { r.activity.Store(time.Now().UnixNano()) }

// smallRoom is the most members a room finds by scanning its list; a
// larger room keeps an index. A room a connection has to itself then costs
// no map.
const smallRoom = 16

func (r *room) add(c *Conn) {
	if r.shared.Load() {
		r.list = slices.Clone(r.list)
		r.shared.Store(false)
	}
	r.list = append(r.list, c)
	switch {
	case r.members != nil:
		r.members[c] = len(r.list) - 1
	case len(r.list) > smallRoom:
		r.members = make(map[*Conn]int, len(r.list))
		for i, m := range r.list {
			r.members[m] = i
		}
	}
	r.touch()
}

// index returns c's place in the list.
func (r *room) index(c *Conn) (int, bool) {
	if r.members != nil {
		i, ok := r.members[c]
		return i, ok
	}
	i := slices.Index(r.list, c)
	return i, i >= 0
}

func (r *room) remove(c *Conn) {
	i, ok := r.index(c)
	if !ok {
		return
	}
	if r.shared.Load() {
		r.list = slices.Clone(r.list)
		r.shared.Store(false)
	}
	last := len(r.list) - 1
	r.list[i] = r.list[last]
	r.list[last] = nil
	r.list = r.list[:last]
	if r.members != nil {
		if i < last {
			r.members[r.list[i]] = i
		}
		delete(r.members, c)
	}
	r.touch()
}

// Join adds the connection to the named rooms, creating rooms as needed.
// Joining a room twice does nothing. It returns an error wrapping
// ErrInvalidRoom or ErrTooManyRooms (hub's MaxRooms or MaxRoomsPerConn)
// that quotes the room, or ErrClosed; rooms before the failing one stay
// joined. Compare with errors.Is.
func (c *Conn) Join(rooms ...string) error {
	for _, name := range rooms {
		if name == "" {
			return c.emptyRoomError()
		}
		if !ValidRoomName(name) {
			return invalidRoom(name)
		}
	}
	h := c.hub
	var created []string // rooms this call created, for the broker
	err := func() error {
		h.roomsMu.Lock()
		defer h.roomsMu.Unlock()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, name := range rooms {
			if c.state == stateClosed {
				return ErrClosed
			}
			if slices.Contains(c.rooms, name) {
				continue
			}
			if h.cfg.MaxRoomsPerConn > 0 && len(c.rooms) >= h.cfg.MaxRoomsPerConn {
				return fmt.Errorf("%w: joining %s: the connection is in %d rooms, the most MaxRoomsPerConn allows", ErrTooManyRooms, quoteName(name), len(c.rooms))
			}
			r := h.rooms[name]
			if r == nil {
				if h.cfg.MaxRooms > 0 && len(h.rooms) >= h.cfg.MaxRooms {
					return fmt.Errorf("%w: creating %s: the hub has %d rooms, the most MaxRooms allows", ErrTooManyRooms, quoteName(name), len(h.rooms))
				}
				r = &room{name: name, created: time.Now()}
				h.rooms[name] = r
				if h.broker != nil {
					created = append(created, name)
				}
			}
			r.add(c)
			c.rooms = append(c.rooms, name)
		}
		return nil
	}()
	if created != nil {
		h.syncSubscriptions(created) // outside the locks: see syncSubscriptions
	}
	if h.rec != nil {
		h.rec.changed(c) // recovery: save the session's rooms
	}
	return err
}

// Leave removes the connection from the named rooms. Leaving a room it is
// not in does nothing. An empty room disappears at once.
func (c *Conn) Leave(rooms ...string) {
	h := c.hub
	var removed []string // rooms this call emptied, for the broker
	h.roomsMu.Lock()
	c.mu.Lock()
	for _, name := range rooms {
		i := slices.Index(c.rooms, name)
		if i < 0 {
			continue
		}
		c.rooms = slices.Delete(c.rooms, i, i+1)
		if h.leaveLocked(c, name) && h.broker != nil {
			removed = append(removed, name)
		}
	}
	c.mu.Unlock()
	h.roomsMu.Unlock()
	if removed != nil {
		h.syncSubscriptions(removed)
	}
	if h.rec != nil {
		h.rec.changed(c) // recovery: save the session's rooms
	}
}

// leaveAll removes c from every room when it closes. c keeps its own list,
// so OnClose handlers can still tell which rooms it was in.
func (h *Hub) leaveAll(c *Conn) {
	var removed []string
	h.roomsMu.Lock()
	c.mu.Lock()
	for _, name := range c.rooms {
		if h.leaveLocked(c, name) && h.broker != nil {
			removed = append(removed, name)
		}
	}
	c.mu.Unlock()
	h.roomsMu.Unlock()
	if removed != nil {
		h.syncSubscriptions(removed)
	}
}

// leaveLocked removes c from the room and drops the room when empty,
// reporting whether it did. h.roomsMu is held.
func (h *Hub) leaveLocked(c *Conn, name string) bool {
	r := h.rooms[name]
	if r == nil {
		return false
	}
	r.remove(c)
	if len(r.list) == 0 {
		delete(h.rooms, name)
		return true
	}
	return false
}

// invalidRoom returns the error for an invalid room name, quoting it. An
// empty name gets a hint: it is usually a missing route parameter or query
// value rather than something a client chose.
func invalidRoom(name string) error {
	if name == "" {
		return fmt.Errorf(`%w: "" (the name is empty: a room name is 1 to 256 bytes; an empty one usually comes from a route parameter or query value the request does not have)`, ErrInvalidRoom)
	}
	return fmt.Errorf("%w: %s", ErrInvalidRoom, quoteName(name))
}

// quoteName quotes a user-supplied name for an error message, escaped and
// cut to 64 bytes so that a hostile name cannot flood a log.
func quoteName(name string) string {
	s := quote.Input(name, maxQuoted)
	if len(name) > maxQuoted {
		s += " (" + strconv.Itoa(len(name)) + " bytes)"
	}
	return s
}

// Rooms returns the names of the rooms the connection is in, sorted. After
// the connection has closed (in OnClose handlers) it returns the rooms it was
// in, which it has already left.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	out := slices.Clone(c.rooms)
	c.mu.Unlock()
	if out == nil {
		out = []string{}
	}
	sort.Strings(out)
	return out
}

// In reports whether the connection is in the named room.
func (c *Conn) In(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.rooms, room)
}

// Rooms returns a snapshot of every room, sorted by name.
func (h *Hub) Rooms() []RoomInfo {
	h.roomsMu.RLock()
	out := make([]RoomInfo, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r.info())
	}
	h.roomsMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Room returns a snapshot of the named room, and false when it does not
// exist.
func (h *Hub) Room(name string) (RoomInfo, bool) {
	h.roomsMu.RLock()
	defer h.roomsMu.RUnlock()
	r := h.rooms[name]
	if r == nil {
		return RoomInfo{}, false
	}
	return r.info(), true
}

func (r *room) info() RoomInfo {
	return RoomInfo{Name: r.name, Members: len(r.list), Created: r.created, LastActivity: time.Unix(0, r.activity.Load())}
}

// Members returns a snapshot of the connections of this hub in the named
// room, at most limit of them (every one when limit is 0 or less), in no
// particular order; nil when the room does not exist here. Members held by
// other hubs sharing a broker are not listed: reach them with To.
func (h *Hub) Members(room string, limit int) []*Conn {
	h.roomsMu.RLock()
	defer h.roomsMu.RUnlock()
	r := h.rooms[room]
	if r == nil {
		return nil
	}
	n := len(r.list)
	if limit > 0 && limit < n {
		n = limit
	}
	return slices.Clone(r.list[:n])
}

// members returns the current member list of the named room for a
// broadcast, or nil. The caller must not modify it.
func (h *Hub) members(name string) []*Conn {
	h.roomsMu.RLock()
	defer h.roomsMu.RUnlock()
	r := h.rooms[name]
	if r == nil {
		return nil
	}
	r.shared.Store(true)
	r.touch()
	return r.list
}

// Limits of RoomsHandler's member lists.
const (
	defaultMembersLimit = 100
	maxMembersLimit     = 10000
)

// RoomsHandler serves the hub's rooms as JSON for an admin route: every
// room, sorted by name (Hub.Rooms), or the one named by ?room= (404 when it
// does not exist here). With ?members=1 each room lists its members (ID, IP,
// user agent, rooms, times) in Conns, at most ?limit= of them (default 100,
// at most 10000); Members always gives the full count. It lists this hub's
// connections only. Protect the route as you would any admin endpoint:
// member lists carry client IPs.
func RoomsHandler(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		members := false
		switch v := q.Get("members"); v {
		case "", "0", "false":
		case "1", "true":
			members = true
		default:
			writeJSONError(w, http.StatusBadRequest, "members: "+quoteName(v)+" is not 1, true, 0 or false")
			return
		}
		limit := defaultMembersLimit
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxMembersLimit {
				writeJSONError(w, http.StatusBadRequest, "limit: "+quoteName(v)+" is not a number from 1 to "+strconv.Itoa(maxMembersLimit))
				return
			}
			limit = n
		}
		withMembers := func(info RoomInfo) RoomInfo {
			if members {
				info.Conns = h.Members(info.Name, limit)
				if info.Conns == nil {
					info.Conns = []*Conn{}
				}
			}
			return info
		}
		var body any
		if q.Has("room") {
			name := q.Get("room")
			info, ok := h.Room(name)
			if !ok {
				writeJSONError(w, http.StatusNotFound, "no room "+quoteName(name))
				return
			}
			body = withMembers(info)
		} else {
			rooms := h.Rooms()
			for i := range rooms {
				rooms[i] = withMembers(rooms[i])
			}
			body = rooms
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(body)
	})
}

// writeJSONError answers an admin request with status and {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
