package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardiam/ward/storage/sql"
)

// TestMigration0017 (issue 18): a realm stored before migration 0017 has
// a token state epoch after it, which its next change moves, so that
// introspection may keep its reads there too.
func TestMigration0017(t *testing.T) {
	beforeMigration(t, 16, func(t *testing.T, ctx context.Context, s *sql.Store, now time.Time) {
		must(t, s.Exec(ctx, `INSERT INTO realms (id, name, display_name, created_at, updated_at) VALUES ('r1', 'shop', 'Shop', ?, ?)`, now, now))
		must(t, s.Migrate(ctx))

		before, err := s.TokenEpochs(ctx, []string{"r1"})
		must(t, err)
		if _, ok := before["r1"]; !ok {
			t.Fatalf("TokenEpochs after 0017 = %v, want the realm stored before it", before)
		}
		must(t, s.RevokeToken(ctx, "r1", "jti-1", now.Add(time.Hour)))
		after, err := s.TokenEpochs(ctx, []string{"r1"})
		must(t, err)
		if after["r1"] == before["r1"] {
			t.Errorf("a revocation left the migrated realm's epoch at %d", after["r1"])
		}
	})
}
