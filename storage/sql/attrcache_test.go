package sql

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// TestAttrCache: a document decodes to the same values as without the
// cache, a different document (a changed group) to its own values, and the
// cache stays within its bounds however many documents it sees.
func TestAttrCache(t *testing.T) {
	c := newAttrCache()
	raw := `{"region":"eu","limit":10,"desks":["news","sport"]}`
	want := map[string]any{"region": "eu", "limit": json.Number("10"), "desks": []any{"news", "sport"}}
	for range 2 {
		got, err := c.get("g", raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("get = %#v, want %#v", got, want)
		}
	}
	got, err := c.get("g", `{"region":"us"}`)
	if err != nil || !reflect.DeepEqual(got, map[string]any{"region": "us"}) {
		t.Fatalf("changed document: %#v, %v", got, err)
	}
	if _, err := c.get("g", `{"region":`); err == nil {
		t.Fatal("malformed document decoded without error")
	}
	for i := range attrCacheEntries + 10 {
		if _, err := c.get("g", fmt.Sprintf(`{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > attrCacheEntries {
		t.Fatalf("cache holds %d documents, bound is %d", len(c.m), attrCacheEntries)
	}
	var nilCache *attrCache // a transaction's Store
	if got, err := nilCache.get("g", raw); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("nil cache: %#v, %v", got, err)
	}
}
