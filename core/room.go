package core

import (
	"slices"
	"sort"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// room is a named set of connections. members indexes list, which is
// copied before a change once a broadcast has taken it (copy on write), so
// broadcasts iterate without holding a lock.
type room struct {
	name     string
	created  time.Time
	activity atomic.Int64 // unix nanoseconds of the last join, leave or send
	members  map[*Conn]int
	list     []*Conn
	shared   atomic.Bool // list is held by a broadcast
}

// RoomInfo describes a room at one moment.
type RoomInfo struct {
	Name         string    `json:"name"`
	Members      int       `json:"members"`
	Created      time.Time `json:"created"`
	LastActivity time.Time `json:"lastActivity"`
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

func (r *room) add(c *Conn) {
	if r.shared.Load() {
		r.list = slices.Clone(r.list)
		r.shared.Store(false)
	}
	r.members[c] = len(r.list)
	r.list = append(r.list, c)
	r.touch()
}

func (r *room) remove(c *Conn) {
	i, ok := r.members[c]
	if !ok {
		return
	}
	if r.shared.Load() {
		r.list = slices.Clone(r.list)
		r.shared.Store(false)
	}
	last := len(r.list) - 1
	r.list[i] = r.list[last]
	r.members[r.list[i]] = i
	r.list[last] = nil
	r.list = r.list[:last]
	delete(r.members, c)
	r.touch()
}

// Join adds the connection to the named rooms, creating rooms as needed.
// Joining a room twice does nothing. It returns ErrInvalidRoom,
// ErrTooManyRooms (hub's MaxRooms or MaxRoomsPerConn) or ErrClosed; rooms
// before the failing one stay joined.
func (c *Conn) Join(rooms ...string) error {
	for _, name := range rooms {
		if !ValidRoomName(name) {
			return ErrInvalidRoom
		}
	}
	h := c.hub
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
			return ErrTooManyRooms
		}
		r := h.rooms[name]
		if r == nil {
			if h.cfg.MaxRooms > 0 && len(h.rooms) >= h.cfg.MaxRooms {
				return ErrTooManyRooms
			}
			r = &room{name: name, created: time.Now(), members: make(map[*Conn]int)}
			h.rooms[name] = r
		}
		r.add(c)
		c.rooms = append(c.rooms, name)
	}
	return nil
}

// Leave removes the connection from the named rooms. Leaving a room it is
// not in does nothing. An empty room disappears at once.
func (c *Conn) Leave(rooms ...string) {
	h := c.hub
	h.roomsMu.Lock()
	defer h.roomsMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range rooms {
		i := slices.Index(c.rooms, name)
		if i < 0 {
			continue
		}
		c.rooms = slices.Delete(c.rooms, i, i+1)
		h.leaveLocked(c, name)
	}
}

// leaveAll removes c from every room when it closes. c keeps its own list,
// so OnClose handlers can still tell which rooms it was in.
func (h *Hub) leaveAll(c *Conn) {
	h.roomsMu.Lock()
	defer h.roomsMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range c.rooms {
		h.leaveLocked(c, name)
	}
}

// leaveLocked removes c from the room and drops the room when empty.
// h.roomsMu is held.
func (h *Hub) leaveLocked(c *Conn, name string) {
	r := h.rooms[name]
	if r == nil {
		return
	}
	r.remove(c)
	if len(r.members) == 0 {
		delete(h.rooms, name)
	}
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
	return RoomInfo{Name: r.name, Members: len(r.members), Created: r.created, LastActivity: time.Unix(0, r.activity.Load())}
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
