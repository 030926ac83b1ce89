package attributes

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decode parses JSON the way the admin API does (UseNumber).
func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestNormalizeAcceptsEachType(t *testing.T) {
	cases := []struct {
		def  Definition
		raw  string
		want any
	}{
		{Definition{Name: "s", Type: String}, `"news"`, "news"},
		{Definition{Name: "i", Type: Integer}, `42`, int64(42)},
		{Definition{Name: "i", Type: Integer}, `-7`, int64(-7)},
		{Definition{Name: "n", Type: Number}, `1.5`, 1.5},
		{Definition{Name: "n", Type: Number}, `3`, 3.0},
		{Definition{Name: "b", Type: Boolean}, `true`, true},
		{Definition{Name: "d", Type: Date}, `"2024-02-29"`, "2024-02-29"},
		{Definition{Name: "m", Type: String, Multi: true}, `["sport","news","sport"]`, []any{"news", "sport"}},
		{Definition{Name: "m", Type: Integer, Multi: true}, `[3,1,2,1]`, []any{int64(1), int64(2), int64(3)}},
		{Definition{Name: "m", Type: Boolean, Multi: true}, `[true,false]`, []any{false, true}},
		{Definition{Name: "m", Type: String, Multi: true}, `[]`, []any{}},
	}
	for _, c := range cases {
		got, err := Normalize(c.def, decode(t, c.raw))
		if err != nil {
			t.Errorf("Normalize(%v, %s): %v", c.def, c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Normalize(%v, %s) = %#v, want %#v", c.def, c.raw, got, c.want)
		}
	}
}

func TestNormalizeWithoutUseNumber(t *testing.T) {
	// Values read back from a JSON column without UseNumber are float64.
	got, err := Normalize(Definition{Name: "i", Type: Integer}, float64(12))
	if err != nil || got != int64(12) {
		t.Fatalf("integer from float64: %v, %v", got, err)
	}
	if _, err := Normalize(Definition{Name: "i", Type: Integer}, 1.5); err == nil {
		t.Fatal("1.5 accepted as integer")
	}
}

func TestNormalizeRejects(t *testing.T) {
	cases := []struct {
		def  Definition
		raw  string
		want string // part of the message
	}{
		{Definition{Name: "s", Type: String}, `1`, "expects a string"},
		{Definition{Name: "i", Type: Integer}, `"1"`, "expects an integer"},
		{Definition{Name: "i", Type: Integer}, `1.5`, "expects an integer"},
		{Definition{Name: "i", Type: Integer}, `99999999999999999999`, "expects an integer"},
		{Definition{Name: "n", Type: Number}, `"x"`, "expects a number"},
		{Definition{Name: "b", Type: Boolean}, `"true"`, "expects true or false"},
		{Definition{Name: "d", Type: Date}, `"2024-02-30"`, "full-date"},
		{Definition{Name: "d", Type: Date}, `"2024-01-01T00:00:00Z"`, "full-date"},
		{Definition{Name: "s", Type: String}, `["a"]`, "single-valued"},
		{Definition{Name: "m", Type: String, Multi: true}, `"a"`, "multi-valued"},
		{Definition{Name: "m", Type: String, Multi: true}, `["a",1]`, "expects a string"},
		{Definition{Name: "x", Type: Type("color")}, `"red"`, "unknown type"},
	}
	for _, c := range cases {
		_, err := Normalize(c.def, decode(t, c.raw))
		if err == nil {
			t.Errorf("Normalize(%v, %s) accepted", c.def, c.raw)
			continue
		}
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Normalize(%v, %s) error %v does not wrap ErrInvalidValue", c.def, c.raw, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"`+c.def.Name+`"`) {
			t.Errorf("Normalize(%v, %s) error %q: want it to name the attribute and say %q", c.def, c.raw, err, c.want)
		}
	}
}

func TestValidNameAndType(t *testing.T) {
	for _, n := range []string{"a", "departments", "max_amount_2", "a" + strings.Repeat("b", 62)} {
		if !ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "1a", "_a", "A", "a-b", "a b", "a" + strings.Repeat("b", 63)} {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
	for _, ty := range []Type{String, Integer, Number, Boolean, Date} {
		if !ty.Valid() {
			t.Errorf("%q not valid", ty)
		}
	}
	if Type("float").Valid() || Type("").Valid() {
		t.Error("unknown type valid")
	}
}
