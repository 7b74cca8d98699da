package redisbroker

import (
	"encoding/base64"
	"hash/fnv"
	"strconv"
)

// Channel names. With prefix P:
//
//	P:all            messages for everyone, and for several rooms at once
//	P:h:<hub>        messages for one connection of that hub
//	P:r:<room>       messages for one room (standalone, Sentinel)
//	P:{P.n}:r:<room> the same in a Redis Cluster, on hash slot bucket n
//
// <room> is the base64url of the room name, so no user-chosen name can form
// another channel's name, reach a glob character, or open a hash tag. Hub
// IDs are base64url already (checked by validHubID).
type channels struct {
	prefix  string
	all     string
	cluster bool
	slots   int
	tags    []string // "P:{P.n}:r:" per bucket n, in cluster mode
}

func newChannels(prefix string, cluster bool, slots int) *channels {
	c := &channels{prefix: prefix, all: prefix + ":all", cluster: cluster, slots: slots}
	if cluster {
		c.tags = make([]string, slots)
		for i := range c.tags {
			c.tags[i] = prefix + ":{" + prefix + "." + strconv.Itoa(i) + "}:r:"
		}
	}
	return c
}

// hub returns the channel of the hub with the given ID.
func (c *channels) hub(id string) string { return c.prefix + ":h:" + id }

// room returns the channel of a room, and in cluster mode its bucket (the
// subscriber connection that carries it); bucket is -1 otherwise.
func (c *channels) room(name string) (ch string, bucket int) {
	enc := base64.RawURLEncoding.EncodeToString([]byte(name))
	if !c.cluster {
		return c.prefix + ":r:" + enc, -1
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	bucket = int(h.Sum32() % uint32(c.slots))
	return c.tags[bucket] + enc, bucket
}

// validHubID reports whether id can be a hub ID: 1 to 64 bytes of
// base64url, as core makes them. Connection IDs come from clients in some
// apps, so the hub part of one is checked before it names a channel.
func validHubID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}
