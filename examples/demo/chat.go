package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/protocol"
)

// maxTextRunes is the longest chat message, in runes.
const maxTextRunes = 500

// session is one connection's chat state; its handlers run one at a time
// on the connection's read goroutine, and OnClose runs there too, but the
// mutex keeps the invariant obvious.
type session struct {
	mu   sync.Mutex
	name string
	room string
}

func (s *session) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.room
}

// chat is the route handler of /ws: the echo box for everyone, the chat
// for signed-in users (the JWT middleware stored their token under
// "user").
func chat(c *core.Conn) error {
	s := &session{}
	if tok, ok := c.Get("user").(*jwt.Token); ok {
		s.name, _ = tok.Claims.GetSubject()
	}
	if c.Recovered() {
		// The session came back with its room (one at a time here), and
		// the page had its hello and its join notices: nothing to announce.
		if rooms := c.Rooms(); len(rooms) > 0 {
			s.room = rooms[0]
		}
	}
	if err := EchoEvent.Handle(c, func(_ *core.Conn, text string) (string, error) { return text, nil }); err != nil {
		return err
	}
	if err := JoinEvent.Handle(c, func(c *core.Conn, req JoinIn) (JoinAck, error) {
		if s.name == "" {
			return JoinAck{}, core.NewEventError(core.CodeForbidden, "sign in to chat")
		}
		if !validRoom(req.Room) {
			return JoinAck{}, core.NewEventError(core.CodeBadRequest, "room must be 1 to 32 printable characters")
		}
		return s.join(c, strings.TrimSpace(req.Room))
	}); err != nil {
		return err
	}
	if err := ChatEvent.Handle(c, func(c *core.Conn, req ChatIn) (ChatAck, error) {
		room, err := s.inRoom()
		if err != nil {
			return ChatAck{}, err
		}
		text := strings.TrimSpace(req.Text)
		if n := utf8.RuneCountInString(text); n == 0 || n > maxTextRunes {
			return ChatAck{}, core.NewEventError(core.CodeBadRequest, fmt.Sprintf("text must be 1 to %d characters", maxTextRunes))
		}
		_, err = SaidEvent.EmitTo(c.Hub().To(room), Message{Name: s.name, Room: room, Text: text, At: time.Now().UTC()})
		return ChatAck{OK: err == nil}, err
	}); err != nil {
		return err
	}
	if err := TypingEvent.Handle(c, func(c *core.Conn, req TypingIn) (protocol.NoReply, error) {
		room, err := s.inRoom()
		if err != nil {
			return protocol.NoReply{}, err
		}
		// Volatile: a typing indicator is for who is here now, never replayed.
		_, err = TypingShownEvent.EmitTo(c.To(room).Volatile(), Typing{Name: s.name, Room: room, Typing: req.Typing})
		return protocol.NoReply{}, err
	}); err != nil {
		return err
	}
	c.OnClose(func(c *core.Conn, _ int, _ string) {
		if room := s.current(); room != "" {
			// Fails harmlessly with ErrHubClosed during shutdown.
			// c.To excludes this connection: a page that recovers is not
			// replayed its own leaving.
			_, _ = LeftEvent.EmitTo(c.To(room), Presence{Name: s.name, Room: room, Members: members(c.Hub(), room)})
		}
	})
	if c.Recovered() {
		return nil
	}
	return HelloEvent.Emit(c, Hello{ID: c.ID(), Name: s.name})
}

// inRoom returns the session's room, or the error a client sees when it
// chats before signing in or joining.
func (s *session) inRoom() (string, error) {
	if s.name == "" {
		return "", core.NewEventError(core.CodeForbidden, "sign in to chat")
	}
	room := s.current()
	if room == "" {
		return "", core.NewEventError(core.CodeBadRequest, "join a room first")
	}
	return room, nil
}

// join moves the connection to room (one room at a time), announcing the
// move to both rooms, and returns who is there.
func (s *session) join(c *core.Conn, room string) (JoinAck, error) {
	s.mu.Lock()
	old := s.room
	s.room = room
	s.mu.Unlock()
	hub := c.Hub()
	if old != "" && old != room {
		c.Leave(old)
		_, _ = LeftEvent.EmitTo(hub.To(old), Presence{Name: s.name, Room: old, Members: members(hub, old)})
	}
	if old != room {
		if err := c.Join(room); err != nil {
			s.mu.Lock()
			s.room = ""
			s.mu.Unlock()
			return JoinAck{}, core.NewEventError(core.CodeBadRequest, "cannot join "+fmt.Sprintf("%q", room))
		}
		_, _ = JoinedEvent.EmitTo(hub.To(room), Presence{Name: s.name, Room: room, Members: members(hub, room)})
	}
	return JoinAck{Room: room, Members: names(hub, room)}, nil
}

// validRoom reports whether room is 1 to 32 printable runes (after
// trimming) and a valid rushws room name.
func validRoom(room string) bool {
	room = strings.TrimSpace(room)
	n := utf8.RuneCountInString(room)
	return n >= 1 && n <= 32 && core.ValidRoomName(room)
}

// members counts the room's members.
func members(hub *core.Hub, room string) int {
	info, _ := hub.Room(room)
	return info.Members
}

// names lists the names of the room's signed-in members.
func names(hub *core.Hub, room string) []string {
	out := []string{}
	for _, c := range hub.Connections() {
		if !c.In(room) {
			continue
		}
		if tok, ok := c.Get("user").(*jwt.Token); ok {
			if sub, _ := tok.Claims.GetSubject(); sub != "" {
				out = append(out, sub)
			}
		}
	}
	return out
}
