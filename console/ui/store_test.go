package ui

import (
	"testing"
	"time"
)

// TestStoreExpiryAndBounds: an entry is found by its key only, until it
// expires; one owner keeps at most maxPerOwner entries (its oldest makes
// room); a full store makes room by dropping the entry closest to expiry,
// so a new sign-in always gets a session and no one can fill the store
// to lock others out.
func TestStoreExpiryAndBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := newStore[string]()
	key := s.put("v", "ann", now.Add(time.Minute), now)
	if len(key) != 43 {
		t.Fatalf("key %q", key)
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

	// One owner: its oldest entry gives way to its newest.
	owned := newStore[int]()
	keys := make([]string, maxPerOwner+1)
	other := owned.put(-1, "bob", now.Add(time.Hour), now)
	for i := range keys {
		keys[i] = owned.put(i, "mallory", now.Add(time.Duration(i+1)*time.Minute), now)
	}
	if _, ok := owned.get(keys[0], now); ok {
		t.Error("an owner kept more than maxPerOwner entries")
	}
	for _, k := range keys[1:] {
		if _, ok := owned.get(k, now); !ok {
			t.Fatal("a newer entry of the owner was dropped")
		}
	}
	if _, ok := owned.get(other, now); !ok {
		t.Error("another owner's entry was dropped")
	}

	// The whole store: the entry closest to expiry gives way.
	full := newStore[int]()
	first := full.put(0, "owner-0", now.Add(time.Minute), now)
	for i := 1; i < maxEntries; i++ {
		full.put(i, "owner-"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), now.Add(time.Hour), now)
	}
	if len(full.entries) != maxEntries {
		t.Fatalf("%d entries, want %d", len(full.entries), maxEntries)
	}
	newest := full.put(-1, "newcomer", now.Add(2*time.Hour), now)
	if _, ok := full.get(newest, now); !ok || len(full.entries) != maxEntries {
		t.Errorf("a full store refused a new entry or grew (%d)", len(full.entries))
	}
	if _, ok := full.get(first, now); ok {
		t.Error("the entry closest to expiry was not the one dropped")
	}
}
