package sql

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"

	"github.com/wardiam/ward/realm"
)

// Token state epochs (realm.TokenStateWatcher): what lets introspection
// keep its reads in memory without losing a change.
//
// Every change of a row ReadIntrospection reads (UpdateClient, UpdateUser,
// RevokeToken) runs in a transaction that, as its last statement before
// the commit, adds one to the realm's row in realm_token_epochs: other
// nodes see the change and the new epoch together. Last, so that the row
// lock is held only for the commit and always after the transaction's
// other locks (no lock-order deadlock with a transaction that locks the
// same rows in another order). After the commit, and before the call
// returns, the process's generation counter moves: this node sees its own
// changes at once, without waiting for a poll.

var _ realm.TokenStateWatcher = (*Store)(nil)

// tokenTouch is what a transaction changed of the realms' token state.
type tokenTouch struct {
	// realms' epochs are bumped before the commit.
	realms []string
	// changed moves the generation after the commit: any change, also a
	// realm deleted (its epoch row goes with it).
	changed bool
}

// after moves gen when the transaction changed token state.
func (t *tokenTouch) after(gen *atomic.Uint64) {
	if t.changed {
		gen.Add(1)
	}
}

// tokenStateChanged records that the transaction s changes realmID's
// token state; s must be a transaction's Store (tx).
func (s *Store) tokenStateChanged(realmID string) {
	s.touched.changed = true
	if !slices.Contains(s.touched.realms, realmID) {
		s.touched.realms = append(s.touched.realms, realmID)
	}
}

// realmDeleted records that the transaction s deletes a realm: only the
// generation moves (the realm's epoch row is deleted with it, which other
// nodes see as the realm missing from TokenEpochs).
func (s *Store) realmDeleted() { s.touched.changed = true }

// bumpTokenEpochSQL adds one to a realm's epoch, creating its row at 1.
const bumpTokenEpochSQL = `INSERT INTO realm_token_epochs (realm_id, epoch) VALUES (?, 1)
ON CONFLICT (realm_id) DO UPDATE SET epoch = realm_token_epochs.epoch + 1`

// bumpTokenEpochs runs, in the transaction s, the epoch bumps its changes
// asked for, in realm ID order (two transactions touching the same realms
// lock their rows in the same order).
func (s *Store) bumpTokenEpochs(ctx context.Context) error {
	slices.Sort(s.touched.realms)
	for _, id := range s.touched.realms {
		if err := s.q(ctx).Exec(bumpTokenEpochSQL, id).Error; err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// tokenEpochsSQL reads the epochs of a list of realms: every realm that
// exists has a row (0 when its epoch row is not there yet). PostgreSQL
// gets the list as an array, SQLite as a JSON array.
const (
	tokenEpochsPostgresSQL = `SELECT r.id, COALESCE(e.epoch, 0) FROM realms r
LEFT JOIN realm_token_epochs e ON e.realm_id = r.id
WHERE r.id = ANY(?::text[])`
	tokenEpochsSQLiteSQL = `SELECT r.id, COALESCE(e.epoch, 0) FROM realms r
LEFT JOIN realm_token_epochs e ON e.realm_id = r.id
WHERE r.id IN (SELECT value FROM json_each(?))`
)

// TokenEpochs reads the epochs of realmIDs (realm.TokenStateWatcher), on
// the read pool.
func (s *Store) TokenEpochs(ctx context.Context, realmIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(realmIDs))
	if len(realmIDs) == 0 {
		return out, nil
	}
	var (
		q       = tokenEpochsPostgresSQL
		arg any = realmIDs
	)
	if s.dialect != Postgres {
		list, err := json.Marshal(realmIDs)
		if err != nil {
			return nil, err
		}
		q, arg = tokenEpochsSQLiteSQL, string(list)
	}
	rows, err := s.query(ctx, q, arg)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    string
			epoch int64
		)
		if err := rows.Scan(&id, &epoch); err != nil {
			return nil, mapErr(err)
		}
		out[id] = epoch
	}
	return out, mapErr(rows.Err())
}

// TokenStateGeneration is the process's count of committed token state
// changes (realm.TokenStateWatcher).
func (s *Store) TokenStateGeneration() uint64 { return s.tokenGen.Load() }
