package chat

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rushws/rushws/core"
)

// Handle is the route handler: it runs once per connection, right after the
// upgrade. It joins the room named by the route parameter "room" and
// announces the connection there (unless the connection recovered its
// session on a hub with recovery on: it is in the room already, and the
// room heard of it before), relays its "chat" events to the room and
// announces its leaving. Mount it behind [ValidRoom], which refuses bad room
// names before the upgrade.
func Handle(c *core.Conn) error {
	room := c.Param("room")
	name := displayName(c.Request().URL.Query().Get("name"), c.ID())
	c.Set("name", name)
	if !c.Recovered() {
		if err := c.Join(room); err != nil {
			return &core.CloseError{Code: core.ClosePolicyViolation, Reason: "cannot join room", Err: err}
		}
		hub := c.Hub()
		_, _ = hub.To(room).Emit("joined", Presence{Name: name, Room: room, Members: members(hub, room)})
	}

	if err := core.Handle(c, "chat", func(c *core.Conn, msg chatIn) (any, error) {
		text := strings.TrimSpace(msg.Text)
		if n := utf8.RuneCountInString(text); n == 0 || n > MaxTextRunes {
			return nil, core.NewEventError(core.CodeBadRequest, fmt.Sprintf("text must be 1 to %d characters", MaxTextRunes))
		}
		if _, err := c.Hub().To(room).Emit("chat", Message{Name: name, Text: text, At: time.Now().UTC()}); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	}); err != nil {
		return err
	}

	c.OnClose(func(c *core.Conn, _ int, _ string) {
		// Fails harmlessly with ErrHubClosed during shutdown.
		// c.To excludes this connection: with recovery on, a client that
		// comes back is not replayed its own leaving.
		_, _ = c.To(room).Emit("left", Presence{Name: name, Room: room, Members: members(c.Hub(), room)})
	})
	return nil
}
