package realm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors. HTTPStatus maps them to statuses, once for every HTTP
// layer.
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

// MaxFieldErrors is how many bad fields a ValidationError keeps and an
// answer lists; the rest are only counted. Without a bound a body of
// 120,000 bad list entries (1 MiB is allowed) answered 6.6 MB of errors.
const MaxFieldErrors = 20

// ValidationError is bad input; it lists the bad fields found, the first
// MaxFieldErrors of them when Add builds it.
type ValidationError struct {
	Fields []FieldError
	// omitted counts the fields Add left out past MaxFieldErrors.
	omitted int
}

func (e *ValidationError) Error() string {
	listed := e.Listed()
	parts := make([]string, len(listed))
	for i, f := range listed {
		if f.Field == "" {
			parts[i] = f.Message
			continue
		}
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a bad field; past MaxFieldErrors it only counts it.
func (e *ValidationError) Add(field, message string) {
	if len(e.Fields) >= MaxFieldErrors {
		e.omitted++
		return
	}
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Listed is what an answer shows (the admin API's errors[], the console's
// pages): at most MaxFieldErrors fields and, when there were more, one
// last entry with an empty field saying how many more ("and 119980 more
// errors"). Every answer goes through it, so however an error was built,
// no answer grows with the input.
func (e *ValidationError) Listed() []FieldError {
	fields, more := e.Fields, e.omitted
	if len(fields) > MaxFieldErrors {
		more += len(fields) - MaxFieldErrors
		fields = fields[:MaxFieldErrors]
	}
	if more == 0 {
		return fields
	}
	msg := fmt.Sprintf("and %d more errors", more)
	if more == 1 {
		msg = "and 1 more error"
	}
	return append(slices.Clip(fields), FieldError{Message: msg})
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

// NotFoundError is ErrNotFound naming what was missing, for requests that
// name several objects (a bulk change) where "not found" alone would not
// say which.
type NotFoundError struct {
	Field  string
	Reason string
}

func (e *NotFoundError) Error() string { return "not found: " + e.Reason }

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// ForbiddenError is ErrForbidden saying what is missing, for callers that
// are told (an API key minting beyond its permissions).
type ForbiddenError struct {
	Reason string
}

func (e *ForbiddenError) Error() string { return "forbidden: " + e.Reason }

// Unwrap makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// HTTPStatus is the one table from a domain error to the HTTP status that
// answers it (pkgsite's derrors is the model). Every HTTP layer (the admin
// API, the console pages, the OAuth pages) takes the status from here and
// only chooses how to write the answer: problem JSON, an HTML page or an
// OAuth error. realm imports nothing of HTTP, so the statuses are numbers:
//
//	*ValidationError       400 Bad Request
//	ErrUnauthenticated     401 Unauthorized
//	ErrForbidden           403 Forbidden
//	ErrNotFound            404 Not Found
//	ErrMethodNotAllowed    405 Method Not Allowed
//	ErrConflict            409 Conflict (and *ConflictError)
//	ErrUnavailable         503 Service Unavailable
//	context.Canceled       499 (the client went away; nobody reads it)
//	anything else          500 Internal Server Error
//
// The order decides for an error that wraps two of them: what the caller
// sent is named before what Ward could not do.
func HTTPStatus(err error) int {
	var verr *ValidationError
	switch {
	case err == nil:
		return 200
	case errors.As(err, &verr):
		return 400
	case errors.Is(err, ErrConflict):
		return 409
	case errors.Is(err, ErrUnauthenticated):
		return 401
	case errors.Is(err, ErrForbidden):
		return 403
	case errors.Is(err, ErrNotFound):
		return 404
	case errors.Is(err, ErrMethodNotAllowed):
		return 405
	case errors.Is(err, ErrUnavailable):
		return 503
	case errors.Is(err, context.Canceled):
		return 499
	}
	return 500
}
