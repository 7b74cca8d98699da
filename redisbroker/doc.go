// Package redisbroker links rushws hubs on many machines through Redis
// pub/sub, so a room's members are reached whichever instance holds them.
//
// Give each hub a Broker on the Redis client the app already has:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	broker, err := redisbroker.New(rdb, redisbroker.Config{})
//	if err != nil {
//		log.Fatal(err) // Redis did not answer
//	}
//	hub, err := core.NewHub(core.Config{Broker: broker})
//
// From then on hub.To(room), hub.Broadcast(), c.To(room), c.Broadcast(),
// hub.ToIDs(id) and Target.Close reach the other instances too, with the
// same exclusions (the sender, Except, ExceptRooms).
//
// # How messages travel
//
// Each message is encoded once (a small binary header and the payload,
// byte for byte) and published once, whatever the room size: a one-room
// message on the room's channel, a message for everyone or for several
// rooms on the everyone channel (each hub delivers it once to each local
// member of any listed room), a direct send on the channel of the hub that
// holds the connection (a connection ID names its hub). A hub subscribes to
// a room's channel only while the room has local members; changes are
// batched into one SUBSCRIBE or UNSUBSCRIBE. Each hub ignores its own
// messages. Channel names are the prefix and the base64url of the room
// name: no room name can reach another channel, a glob or a hash tag, and
// no pattern subscription is ever made.
//
// With a *redis.ClusterClient, room channels use sharded pub/sub (Redis 7
// SPUBLISH and SSUBSCRIBE), so a room's message goes to one shard instead
// of every node; rooms are spread over Config.ClusterSlots hash slots, each
// slot in use with its own subscriber connection. The everyone and hub
// channels stay classic pub/sub. When resharding moves a slot, Redis drops
// its channels' subscriptions; the broker subscribes them again on the new
// owner (counted as a resubscribe).
//
// # Guarantees
//
// Delivery across hubs is at most once, in publish order per hub (in a
// Redis Cluster, per room: rooms on different slots travel on different
// connections). Messages
// are lost, never duplicated, in these windows, each visible in Stats
// (and in the "broker" object of core.StatsHandler):
//
//   - Redis unreachable or too slow: a message not handed to Redis within
//     Config.PublishTimeout is dropped and counted in PublishErrors; the
//     sending hub's own members still get it. LastError says why.
//   - A subscriber reconnecting (Redis restarted, the connection killed):
//     what is published before it has resubscribed is lost for that hub.
//     Connected is false meanwhile; Resubscribes counts each recovery and
//     the log says how long it took. Reconnection is retried every 100ms at
//     most, so a hub is back within about that long of Redis answering.
//   - A hub too slow to take what it receives: the receive buffer
//     (Config.ReceiveBuffer messages, Config.ReceiveBufferBytes) overflows
//     and the excess is counted in Drops; the Redis connection is never
//     blocked. The publish queue is bounded the same way
//     (Config.PublishQueue, Config.PublishQueueBytes).
//   - A subscription in flight: a room's first member may miss what other
//     hubs send in the moment before Redis confirms the subscription
//     (Subscriptions counts confirmed rooms).
//
// Healthy answers whether Redis answers and the subscriber is connected,
// for an alerting or readiness probe.
//
// # Connection state recovery
//
// A Broker is also a core.RecoveryStore, used by a hub with
// core.Config.Recovery on and no Store of its own: histories in Redis
// Streams with offsets and one epoch per prefix, sessions in hashes with
// expiry, so a client recovers on any instance, after the one it used
// died, and across a rolling restart (see StartRecovery for the keys). A
// kept message is appended and published in one Lua script, and every hub,
// the sender included, delivers it when it comes back from Redis with its
// positions, so every member sees the same "pos". When the script fails
// (Redis unreachable, Config.PublishTimeout passed) the sending hub
// delivers it to its own members without "pos" and counts it
// (Stats.Recovery.Unkept). Recovery is not supported on a Redis Cluster
// yet: StartRecovery refuses a cluster client.
//
// # Presence
//
// Hub.Rooms counts a room's members on one hub. After TrackPresence(hub),
// each hub keeps its room sizes in Redis with an expiry, and Presence
// returns a room's size on every hub; a crashed hub's members age out after
// Config.PresenceTTL.
//
// # Concurrency
//
// A Broker serves one hub and is safe for concurrent use. It runs a
// publisher goroutine, a delivery goroutine (which calls the hub, one
// message at a time, in arrival order), a subscription manager and a read
// loop per subscriber connection, plus one for presence when tracked; Close
// (called by the hub's Shutdown or Close) stops them all and leaves the
// user's Redis client open.
package redisbroker
