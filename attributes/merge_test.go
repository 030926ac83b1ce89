package attributes

import (
	"encoding/json"
	"reflect"
	"testing"
)

var mergeDefs = []Definition{
	{Name: "departments", Type: String, Multi: true},
	{Name: "admin", Type: Boolean},
	{Name: "level", Type: Integer},
	{Name: "region", Type: String},
}

func TestMergeMultiIsSortedUnion(t *testing.T) {
	got := Merge(mergeDefs, []GroupValues{
		{GroupID: "g1", Values: map[string]any{"departments": []any{"sport", "news"}}},
		{GroupID: "g2", Values: map[string]any{"departments": []any{"finance", "news"}}},
		{GroupID: "g3", Values: map[string]any{}},
	}, "")
	want := []any{"finance", "news", "sport"}
	if !reflect.DeepEqual(got["departments"], want) {
		t.Fatalf("departments = %#v, want %#v", got["departments"], want)
	}
}

func TestMergeSingle(t *testing.T) {
	groups := []GroupValues{
		{GroupID: "g1", Values: map[string]any{"admin": true, "level": int64(3), "region": "eu"}},
		{GroupID: "g2", Values: map[string]any{"admin": true, "level": int64(5), "region": "us"}},
		{GroupID: "g3", Values: map[string]any{"level": int64(4)}},
	}
	t.Run("agreement wins without a primary", func(t *testing.T) {
		got := Merge(mergeDefs, groups, "")
		if got["admin"] != true {
			t.Errorf("admin = %v, want true (all groups that set it agree)", got["admin"])
		}
		if _, ok := got["level"]; ok {
			t.Errorf("level = %v, want absent (groups disagree, no primary)", got["level"])
		}
		if _, ok := got["region"]; ok {
			t.Errorf("region = %v, want absent", got["region"])
		}
	})
	t.Run("primary decides disagreements", func(t *testing.T) {
		got := Merge(mergeDefs, groups, "g2")
		if got["level"] != int64(5) || got["region"] != "us" {
			t.Errorf("got level=%v region=%v, want the primary group's 5, us", got["level"], got["region"])
		}
	})
	t.Run("primary that does not set it leaves it absent", func(t *testing.T) {
		got := Merge(mergeDefs, groups, "g3")
		if got["level"] != int64(4) {
			t.Errorf("level = %v, want 4 (primary g3 sets it)", got["level"])
		}
		if _, ok := got["region"]; ok {
			t.Errorf("region = %v, want absent: g3 does not set it and others disagree", got["region"])
		}
		if got["admin"] != true {
			t.Errorf("admin = %v, want true", got["admin"])
		}
	})
}

func TestMergeIgnoresUndefinedAndEmpty(t *testing.T) {
	got := Merge(mergeDefs, []GroupValues{{GroupID: "g", Values: map[string]any{"ghost": "x"}}}, "g")
	if len(got) != 0 {
		t.Fatalf("got %v, want empty", got)
	}
	if got := Merge(mergeDefs, nil, ""); got == nil || len(got) != 0 {
		t.Fatalf("no groups: got %#v, want empty map", got)
	}
}

func TestCanonicalNormalizesStoredValues(t *testing.T) {
	// What a JSON column gives back: float64 numbers and []any lists.
	var stored map[string]any
	if err := json.Unmarshal([]byte(`{"level":3,"departments":["sport","news"],"admin":false,"ghost":1,"region":7}`), &stored); err != nil {
		t.Fatal(err)
	}
	got := Canonical(mergeDefs, stored)
	want := map[string]any{"level": int64(3), "departments": []any{"news", "sport"}, "admin": false}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Canonical = %#v, want %#v (undefined and mistyped values dropped)", got, want)
	}
	// Canonical values then merge like fresh ones: 3 from storage equals int64(3).
	merged := Merge(mergeDefs, []GroupValues{
		{GroupID: "a", Values: got},
		{GroupID: "b", Values: map[string]any{"level": int64(3)}},
	}, "")
	if merged["level"] != int64(3) {
		t.Fatalf("level = %#v, want int64(3)", merged["level"])
	}
}

func TestSortedUniqueNumbers(t *testing.T) {
	got := SortedUnique([]any{2.5, 1.0, 2.5, -1.0})
	if !reflect.DeepEqual(got, []any{-1.0, 1.0, 2.5}) {
		t.Fatalf("got %#v", got)
	}
}
