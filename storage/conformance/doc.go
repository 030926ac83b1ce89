// Package conformance is the one test suite every realm.Store backend must
// pass, so that a behaviour only one backend has shows up as a failure.
//
// Run exercises every Store method through the interface only: CRUD,
// not-found and conflict errors, realm isolation, pagination, cascades,
// token single use and transactions. It must not reach into a backend's
// internals or depend on one backend's quirks; a backend test calls Run with
// a constructor that returns a fresh, migrated, empty store per test.
package conformance
