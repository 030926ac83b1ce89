package attributes

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// Type is the type of an attribute's values.
type Type string

// The attribute types a realm may define.
const (
	String  Type = "string"
	Integer Type = "integer"
	Number  Type = "number"
	Boolean Type = "boolean"
	Date    Type = "date"
)

// Valid reports whether t is one of the defined types.
func (t Type) Valid() bool {
	switch t {
	case String, Integer, Number, Boolean, Date:
		return true
	}
	return false
}

// Definition is the schema of one attribute.
type Definition struct {
	Name  string
	Type  Type
	Multi bool
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ValidName reports whether name is a legal attribute name.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ErrInvalidValue is wrapped by every value validation error.
var ErrInvalidValue = errors.New("invalid attribute value")

// Normalize checks raw against def and returns the canonical Go value:
// string, int64, float64, bool or string (YYYY-MM-DD) for dates, and for a
// multi-valued attribute a sorted, de-duplicated []any of those. raw is what
// encoding/json produced, with or without UseNumber.
func Normalize(def Definition, raw any) (any, error) {
	if def.Multi {
		list, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %q is multi-valued: expected a list of %s values", ErrInvalidValue, def.Name, def.Type)
		}
		out := make([]any, 0, len(list))
		for _, item := range list {
			v, err := normalizeOne(def, item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return SortedUnique(out), nil
	}
	if _, isList := raw.([]any); isList {
		return nil, fmt.Errorf("%w: %q is single-valued: a list is not allowed", ErrInvalidValue, def.Name)
	}
	return normalizeOne(def, raw)
}

func normalizeOne(def Definition, raw any) (any, error) {
	bad := func() error {
		return fmt.Errorf("%w: %q expects %s", ErrInvalidValue, def.Name, typeInWords(def.Type))
	}
	switch def.Type {
	case String:
		s, ok := raw.(string)
		if !ok {
			return nil, bad()
		}
		return s, nil
	case Boolean:
		b, ok := raw.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case Integer:
		switch v := raw.(type) {
		case json.Number:
			i, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, bad()
			}
			return i, nil
		case float64:
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				return nil, bad()
			}
			return int64(v), nil
		case int64:
			return v, nil
		case int:
			return int64(v), nil
		}
		return nil, bad()
	case Number:
		switch v := raw.(type) {
		case json.Number:
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, bad()
			}
			return f, nil
		case float64:
			return v, nil
		case int64:
			return float64(v), nil
		case int:
			return float64(v), nil
		}
		return nil, bad()
	case Date:
		s, ok := raw.(string)
		if !ok {
			return nil, bad()
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, fmt.Errorf("%w: %q expects an RFC 3339 full-date (YYYY-MM-DD)", ErrInvalidValue, def.Name)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: %q has unknown type %q", ErrInvalidValue, def.Name, def.Type)
}

// SortedUnique sorts values of one type and drops duplicates.
func SortedUnique(values []any) []any {
	sort.SliceStable(values, func(i, j int) bool { return less(values[i], values[j]) })
	out := values[:0]
	for i, v := range values {
		if i > 0 && equal(v, out[len(out)-1]) {
			continue
		}
		out = append(out, v)
	}
	return out
}

func less(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return x < y
	case int64:
		y, _ := b.(int64)
		return x < y
	case float64:
		y, _ := b.(float64)
		return x < y
	case bool:
		y, _ := b.(bool)
		return !x && y
	}
	return false
}

func equal(a, b any) bool { return a == b }

// typeInWords names a value of type t as an error message says it.
func typeInWords(t Type) string {
	switch t {
	case String:
		return "a string"
	case Integer:
		return "an integer"
	case Number:
		return "a number"
	case Boolean:
		return "true or false"
	case Date:
		return "a date (YYYY-MM-DD)"
	}
	return "a " + string(t) + " value"
}
