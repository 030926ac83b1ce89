package oauth

import (
	"fmt"
	"testing"

	"github.com/ory/fosite"
)

// TestCausedBy: fosite hides a storage error behind Cause; the token
// endpoint must still see a lost rotation for what it is.
func TestCausedBy(t *testing.T) {
	err := fmt.Errorf("outer: %w", fosite.ErrServerError.WithWrap(errRefreshReused).WithDebug("x"))
	if !causedBy(err, errRefreshReused) {
		t.Error("causedBy misses an error behind RFC6749Error.Cause")
	}
	if causedBy(err, errCodeReused) || causedBy(nil, errRefreshReused) {
		t.Error("causedBy finds what is not there")
	}
}
