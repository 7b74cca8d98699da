package core

// smallMap holds the few entries a connection keeps by name (metadata,
// event handlers) in a slice scanned in order: for a handful of keys it
// costs a fraction of a Go map, and an idle connection carries thousands
// of bytes less across a hub. Lookups are linear, which stays cheaper than
// hashing up to a few dozen keys.
type smallMap[V any] []smallEntry[V]

type smallEntry[V any] struct {
	key   string
	value V
}

// get returns the value stored under key.
func (m smallMap[V]) get(key string) (V, bool) {
	for i := range m {
		if m[i].key == key {
			return m[i].value, true
		}
	}
	var zero V
	return zero, false
}

// set stores value under key, replacing what was there.
func (m *smallMap[V]) set(key string, value V) {
	for i := range *m {
		if (*m)[i].key == key {
			(*m)[i].value = value
			return
		}
	}
	*m = append(*m, smallEntry[V]{key, value})
}

// del removes key; the order of the others is kept.
func (m *smallMap[V]) del(key string) {
	for i := range *m {
		if (*m)[i].key == key {
			last := len(*m) - 1
			copy((*m)[i:], (*m)[i+1:])
			(*m)[last] = smallEntry[V]{} // drop the reference
			*m = (*m)[:last]
			return
		}
	}
}
