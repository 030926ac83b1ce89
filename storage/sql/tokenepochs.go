package sql

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/wardiam/ward/realm"
)

// Token state epochs (realm.TokenStateWatcher): what lets introspection
// and grants keep their reads in memory without losing a change.
//
// Every change of what ReadIntrospection or GetClientClaims reads — a
// client or user updated (with its groups), a token revoked, a group
// updated or deleted, an attribute definition created, changed or deleted
// (bumpSchemaVersion), the realm's IP allow list set — runs in a
// transaction that records it (tokenChanges.add) and, as its last
// statement before the commit, adds one to the realm's row in
// realm_token_epochs: other nodes see the change and the new epoch
// together. The row exists from the realm's creation, so the bump is an
// update, which takes no lock but the row's own; last, so that the lock is
// held only for the commit and always after the transaction's other locks
// (no lock-order deadlock). After the commit, and before the call returns,
// the process's generation for the realm moves: this node sees its own
// changes at once, without waiting for a poll. A new write path to those
// rows must record its change (tx.tokenChanges.add).

var _ realm.TokenStateWatcher = (*Store)(nil)

// tokenGenerations are the process's generations, one per shard of realm
// IDs: a change in one realm leaves most others' kept reads alone.
type tokenGenerations [64]atomic.Uint64

func (g *tokenGenerations) of(realmID string) *atomic.Uint64 {
	// FNV-1a, inline: every grant and introspection asks.
	h := uint32(2166136261)
	for i := 0; i < len(realmID); i++ {
		h = (h ^ uint32(realmID[i])) * 16777619
	}
	return &g[h%uint32(len(g))]
}

// tokenChanges are the realms whose token state a transaction changes.
type tokenChanges struct {
	// realms' epochs are bumped before the commit, their generations
	// moved after it.
	realms []string
	// deleted realms' generations are moved after the commit (their epoch
	// rows go with them, which other nodes see as the realm missing from
	// TokenEpochs).
	deleted []string
}

// add records that the transaction changes realmID's token state.
func (t *tokenChanges) add(realmID string) {
	if !slices.Contains(t.realms, realmID) {
		t.realms = append(t.realms, realmID)
	}
}

// realmDeleted records that the transaction deletes realmID.
func (t *tokenChanges) realmDeleted(realmID string) { t.deleted = append(t.deleted, realmID) }

// createTokenEpochSQL gives a new realm its epoch row.
const createTokenEpochSQL = `INSERT INTO realm_token_epochs (realm_id, epoch) VALUES (?, 0)`

// bumpTokenEpochSQL adds one to a realm's epoch.
const bumpTokenEpochSQL = `UPDATE realm_token_epochs SET epoch = epoch + 1 WHERE realm_id = ?`

// bump runs, in the transaction db, the epoch bumps, in realm ID order (two
// transactions touching the same realms lock their rows in the same
// order).
func (t *tokenChanges) bump(db *gorm.DB) error {
	slices.Sort(t.realms)
	for _, id := range t.realms {
		if err := db.Exec(bumpTokenEpochSQL, id).Error; err != nil {
			return mapErr(err)
		}
	}
	return nil
}

// after moves the generations of the realms the transaction changed or
// deleted; it runs after the commit (or rollback).
func (t *tokenChanges) after(gens *tokenGenerations) {
	for _, id := range slices.Concat(t.realms, t.deleted) {
		gens.of(id).Add(1)
	}
}

// tokenEpochsSQL reads the epochs of a list of realms: PostgreSQL gets
// the list as an array, SQLite as a JSON array. A realm without an epoch
// row (deleted) is absent.
const (
	tokenEpochsPostgresSQL = `SELECT realm_id, epoch FROM realm_token_epochs WHERE realm_id = ANY(?::text[])`
	tokenEpochsSQLiteSQL   = `SELECT realm_id, epoch FROM realm_token_epochs WHERE realm_id IN (SELECT value FROM json_each(?))`
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
// changes in realmID (realm.TokenStateWatcher); realms may share a count.
func (s *Store) TokenStateGeneration(realmID string) uint64 { return s.tokenGens.of(realmID).Load() }
