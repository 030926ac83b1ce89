package login

import (
	"strings"
	"testing"

	"github.com/wardiam/ward/realm"
)

// The unknown-email path must cost what a real verification costs: the
// constant dummy hash has to carry the parameters HashPassword uses now.
func TestDummyHashMatchesPasswordParameters(t *testing.T) {
	h, err := realm.HashPassword("anything at all", nil)
	if err != nil {
		t.Fatal(err)
	}
	params := func(phc string) string { return strings.Join(strings.Split(phc, "$")[:4], "$") }
	if params(dummyHash()) != params(h) {
		t.Fatalf("dummy hash parameters %q, HashPassword uses %q", params(dummyHash()), params(h))
	}
	if realm.VerifyPassword(dummyHash(), "anything at all") {
		t.Fatal("the dummy hash verifies a password")
	}
}
