package realm_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/wardiam/ward/realm"
)

// TestEventTypesList: the console's list of event types is sorted, has no
// duplicates, and every entry is an object.verb name.
func TestEventTypesList(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z_]*\.[a-z_]+$`)
	for _, typ := range realm.EventTypes {
		if !name.MatchString(string(typ)) {
			t.Errorf("event type %q is not object.verb", typ)
		}
	}
	if !slices.IsSorted(realm.EventTypes) || len(slices.Compact(slices.Clone(realm.EventTypes))) != len(realm.EventTypes) {
		t.Errorf("EventTypes is not sorted without duplicates: %q", realm.EventTypes)
	}
}
