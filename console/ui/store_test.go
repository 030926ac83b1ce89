package ui

import (
	"testing"
	"time"
)

// TestStoreExpiryTakeAndBound: an entry is found by its key only, until it
// expires; take uses it once; a full store of live entries refuses more,
// and expired entries make room again.
func TestStoreExpiryTakeAndBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newStore[string]()
	key, ok := s.put("v", now.Add(time.Minute), now)
	if !ok || len(key) != 43 {
		t.Fatalf("put = %q, %v", key, ok)
	}
	if _, ok := s.get(key+"x", now); ok {
		t.Error("a different key found the entry")
	}
	if v, ok := s.get(key, now); !ok || v != "v" {
		t.Errorf("get = %q, %v", v, ok)
	}
	if _, ok := s.get(key, now.Add(time.Minute)); ok {
		t.Error("an expired entry was found")
	}

	key, _ = s.put("once", now.Add(time.Minute), now)
	if v, ok := s.take(key, now); !ok || v != "once" {
		t.Fatalf("take = %q, %v", v, ok)
	}
	if _, ok := s.take(key, now); ok {
		t.Error("an entry was taken twice")
	}

	full := newStore[int]()
	for i := range maxEntries {
		if _, ok := full.put(i, now.Add(time.Duration(i%2+1)*time.Minute), now); !ok {
			t.Fatalf("put %d refused below the bound", i)
		}
	}
	if _, ok := full.put(-1, now.Add(time.Hour), now); ok {
		t.Error("a full store of live entries accepted one more")
	}
	// Half the entries expire after one minute: room again.
	if _, ok := full.put(-1, now.Add(time.Hour), now.Add(time.Minute)); !ok {
		t.Error("expired entries did not make room")
	}
}
