package redisbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

// Link a hub to the other instances of the app through the app's Redis.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	broker, err := redisbroker.New(rdb, redisbroker.Config{Prefix: "chat"})
	if err != nil {
		log.Print(err) // Redis did not answer: refuse to start split
		return
	}
	hub, err := core.NewHub(core.Config{Broker: broker})
	if err != nil {
		log.Print(err)
		return
	}
	defer hub.Close() // closes the broker too
	http.Handle("/ws/{room}", hub.Handler(func(c *core.Conn) error {
		room := c.Param("room")
		if err := c.Join(room); err != nil {
			return err
		}
		return c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
			// Every member of the room, on every instance, once.
			_, err := c.Hub().To(room).Emit("chat", data)
			return nil, err
		})
	}))
}

// Count a room's members on every instance.
func ExampleBroker_Presence() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	broker, err := redisbroker.New(rdb, redisbroker.Config{})
	if err != nil {
		log.Print(err)
		return
	}
	hub, err := core.NewHub(core.Config{Broker: broker})
	if err != nil {
		log.Print(err)
		return
	}
	defer hub.Close()
	if err := broker.TrackPresence(hub); err != nil {
		log.Print(err)
		return
	}
	n, err := broker.Presence(context.Background(), "lobby")
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("lobby members on every instance:", n)
}

// Report the broker in a readiness or alerting probe.
func ExampleBroker_Healthy() {
	var broker *redisbroker.Broker // from redisbroker.New
	http.HandleFunc("/healthz/broker", func(w http.ResponseWriter, r *http.Request) {
		if err := broker.Healthy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
}
