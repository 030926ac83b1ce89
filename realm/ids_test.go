package realm

import (
	"testing"
	"time"
)

// IDs made by one process in one millisecond keep their creation order
// and stay distinct; a later millisecond sorts after all of them.
func TestNewIDMonotonicWithinMillisecond(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_123)
	prev := NewID(now, nil)
	for i := 0; i < 10000; i++ {
		id := NewID(now, nil)
		if len(id) != 26 || id <= prev {
			t.Fatalf("ID %d = %q after %q: want 26 characters sorting later", i, id, prev)
		}
		prev = id
	}
	if later := NewID(now.Add(time.Millisecond), nil); later <= prev || later[:10] == prev[:10] {
		t.Fatalf("next millisecond's ID %q does not sort after %q with a new time prefix", later, prev)
	}
	if earlier := NewID(now.Add(-time.Second), nil); earlier >= prev {
		t.Fatalf("an earlier time's ID %q sorts after %q", earlier, prev)
	}
}
