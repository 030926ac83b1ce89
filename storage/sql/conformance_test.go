package sql_test

import (
	"testing"

	"github.com/wardiam/ward/realm"
	"github.com/wardiam/ward/storage/conformance"
	"github.com/wardiam/ward/storage/sqltest"
)

func TestConformanceSQLiteFile(t *testing.T) {
	conformance.Run(t, func(t *testing.T) realm.Store { return sqltest.Open(t) })
}

func TestConformanceSQLiteMemory(t *testing.T) {
	conformance.Run(t, func(t *testing.T) realm.Store { return sqltest.OpenMemory(t) })
}

func TestConformancePostgres(t *testing.T) {
	sqltest.PostgresDSN(t) // fail (or skip on request) before running subtests
	conformance.Run(t, func(t *testing.T) realm.Store { return sqltest.OpenPostgres(t) })
}

// TestConformancePostgresBatched runs the cases that read client claims,
// introspections and refresh grants with every such read through its
// batch statement (readbatch.go), which concurrent reads share under load.
func TestConformancePostgresBatched(t *testing.T) {
	sqltest.PostgresDSN(t)
	conformance.RunCases(t, func(t *testing.T) realm.Store {
		s := sqltest.OpenPostgres(t)
		s.BatchEveryRead()
		return s
	}, "ClientClaims", "ClaimsIPAllowLists", "IntrospectionRead", "RealmIsolation", "InTx", "Clients",
		"ReadRefreshGrant", "RefreshGrant", "RefreshInTx")
}
