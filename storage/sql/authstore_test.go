package sql_test

import (
	"testing"

	"github.com/wardiam/ward/storage/conformance"
	"github.com/wardiam/ward/storage/sqltest"
)

func TestAuthConformanceSQLiteFile(t *testing.T) {
	conformance.RunAuth(t, func(t *testing.T) conformance.AuthStore { return sqltest.Open(t) })
}

func TestAuthConformancePostgres(t *testing.T) {
	sqltest.PostgresDSN(t)
	conformance.RunAuth(t, func(t *testing.T) conformance.AuthStore { return sqltest.OpenPostgres(t) })
}

func TestRefreshConformanceSQLiteFile(t *testing.T) {
	conformance.RunRefresh(t, func(t *testing.T) conformance.RefreshStore { return sqltest.Open(t) })
}

func TestRefreshConformancePostgres(t *testing.T) {
	sqltest.PostgresDSN(t)
	conformance.RunRefresh(t, func(t *testing.T) conformance.RefreshStore { return sqltest.OpenPostgres(t) })
}
