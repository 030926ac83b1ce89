package realm_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/wardiam/ward/realm"
)

// TestHTTPStatus: each domain error has its one status, also wrapped, and
// what the caller sent wins over what Ward could not do.
func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{realm.Invalid("name", "is required"), 400},
		{fmt.Errorf("create: %w", realm.Invalid("name", "is required")), 400},
		{realm.ErrUnauthenticated, 401},
		{realm.ErrForbidden, 403},
		{realm.ErrNotFound, 404},
		{realm.ErrMethodNotAllowed, 405},
		{realm.ErrConflict, 409},
		{realm.Conflict("name", "is taken"), 409},
		{fmt.Errorf("%w: database down", realm.ErrUnavailable), 503},
		{context.Canceled, 499},
		{errors.New("disk on fire"), 500},
		{fmt.Errorf("%w: %w", realm.ErrUnavailable, realm.Invalid("q", "is too long")), 400},
	} {
		if got := realm.HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
