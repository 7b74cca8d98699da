package core

import "testing"

func TestSmallMap(t *testing.T) {
	t.Parallel()
	var m smallMap[int]
	for i, k := range []string{"a", "b", "c"} {
		m.set(k, i)
	}
	m.set("b", 10)
	if v, ok := m.get("b"); !ok || v != 10 {
		t.Fatalf("get b = %d, %v; want 10, true", v, ok)
	}
	m.del("a")
	m.del("zz")
	if _, ok := m.get("a"); ok || len(m) != 2 {
		t.Fatalf("after del a: %v", m)
	}
	if m[0].key != "b" || m[1].key != "c" {
		t.Fatalf("order not kept: %v", m)
	}
	m.del("c")
	if cap(m) > len(m) && m[:cap(m)][len(m)].key != "" {
		t.Fatal("a deleted entry is still referenced")
	}
}
