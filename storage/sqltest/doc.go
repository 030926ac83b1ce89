// Package sqltest opens real, migrated stores for tests of other packages:
// a temp-file SQLite store, or a fresh PostgreSQL database on the server
// named by WARD_TEST_POSTGRES.
//
// It is for tests only and must not be imported by production code. It is
// the one place outside cmd/ that reads the environment, and only the test
// variables WARD_TEST_POSTGRES and WARD_SKIP_POSTGRES.
//
// Without WARD_TEST_POSTGRES the Postgres helpers fail the test with how to
// provide a server, because a skipped Postgres test would hide a missing
// dependency. WARD_SKIP_POSTGRES=1 is the explicit opt-out: then they skip.
package sqltest
