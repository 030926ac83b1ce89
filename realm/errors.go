package realm

import (
	"errors"
	"strings"
)

// Sentinel errors. The HTTP layers map them to statuses in one place each.
var (
	// ErrNotFound: the object does not exist or is not visible to the caller
	// (another org's or another realm's objects are "not found", never
	// "forbidden").
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change clashes with existing state (duplicate name,
	// attribute in use, primary group removal).
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the caller is authenticated but its role does not allow
	// the change.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no principal in the context. Services fail closed.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrMethodNotAllowed: the operation is never allowed (deleting users).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrUnavailable: the database cannot be reached or is overloaded right
	// now; the request may succeed later (HTTP 503). Storage wraps such
	// errors with it.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// FieldError names one bad input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is bad input; it lists every bad field found.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a bad field.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// OrNil returns e if any field was added, else nil, so callers can collect
// errors and return them in one go.
func (e *ValidationError) OrNil() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid is a shorthand for a ValidationError with one field.
func Invalid(field, message string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// ConflictError is ErrConflict with a human-readable reason and, when one
// field is to blame, its name.
type ConflictError struct {
	Field  string
	Reason string
}

func (e *ConflictError) Error() string { return "conflict: " + e.Reason }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Conflict builds a ConflictError.
func Conflict(field, reason string) error { return &ConflictError{Field: field, Reason: reason} }
