package ui

import "testing"

// TestFoldIndexed: per-item errors land on their list's field, the first
// bad line first (by number, not as text), and plain fields stay.
func TestFoldIndexed(t *testing.T) {
	got := foldIndexed(fieldErrors{
		"redirect_uris[10]": "must use https",
		"redirect_uris[2]":  "must not have a fragment",
		"groups[1]":         "does not exist",
		"name":              "is required",
	})
	want := fieldErrors{
		"redirect_uris": "line 3 must not have a fragment",
		"groups":        "a chosen group does not exist",
		"name":          "is required",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}
