package chat

import (
	"net/http"

	"github.com/rushws/rushws/core"
)

// ValidRoom refuses the handshake with 400 when the route parameter "room"
// is not a valid room name, before any upgrade happens, so a bad URL gets an
// HTTP error the browser can show rather than a WebSocket that closes at
// once.
func ValidRoom(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if !core.ValidRoomName(c.Param("room")) {
			return core.NewHTTPError(http.StatusBadRequest, "invalid room name")
		}
		return next(c)
	}
}

// members counts the room's members. In an OnClose handler the closing
// connection has already left, so it is not counted.
func members(hub *core.Hub, room string) int {
	info, _ := hub.Room(room)
	return info.Members
}
