package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/wardiam/ward/realm"
)

var _ realm.IntrospectionReader = (*Store)(nil)

// readIntrospectionSQL reads an introspection's four parts in one
// statement, hence one round trip and one snapshot: always exactly one row
// (the one-row subquery), each part NULL when its row does not exist or
// its ID is empty (no row has an empty ID). Each lookup is by a unique
// index: clients (realm_id, client_id), users (realm_id, id) and
// revoked_tokens' primary key (realm_id, jti). Only the columns the checks
// use are read (each costs a conversion, on SQLite a call into the
// engine): a row's realm and its client_id or ID are the ones asked for.
const readIntrospectionSQL = `SELECT
 EXISTS (SELECT 1 FROM revoked_tokens WHERE realm_id = ? AND jti = ?),
 c.id, c.kind, c.active, c.public, c.org_id, c.org_role, c.secret_hash, c.previous_secret_hash,
 c.previous_secret_expires_at, c.tokens_valid_after,
 t.id, t.active, t.tokens_valid_after,
 u.active, u.tokens_valid_after
FROM (SELECT 1 AS one) AS o
LEFT JOIN clients c ON c.realm_id = ? AND c.client_id = ?
LEFT JOIN clients t ON t.realm_id = ? AND t.client_id = ?
LEFT JOIN users u ON u.realm_id = ? AND u.id = ?`

// readIntrospectionBatchSQL is readIntrospectionSQL for several queries
// at once (readbatch.go): one row per query, numbered by its place in the
// arrays (from 1) and in that order, each part looked up by the same
// unique index.
const readIntrospectionBatchSQL = `SELECT q.i,
 EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.realm_id = q.realm AND r.jti = q.jti),
 c.id, c.kind, c.active, c.public, c.org_id, c.org_role, c.secret_hash, c.previous_secret_hash,
 c.previous_secret_expires_at, c.tokens_valid_after,
 t.id, t.active, t.tokens_valid_after,
 u.active, u.tokens_valid_after
FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS q(realm, jti, caller, tclient, uid, i)
LEFT JOIN LATERAL (SELECT id, kind, active, public, org_id, org_role, secret_hash, previous_secret_hash,
 previous_secret_expires_at, tokens_valid_after
 FROM clients WHERE realm_id = q.realm AND client_id = q.caller OFFSET 0) c ON true
LEFT JOIN LATERAL (SELECT id, active, tokens_valid_after
 FROM clients WHERE realm_id = q.realm AND client_id = q.tclient OFFSET 0) t ON true
LEFT JOIN LATERAL (SELECT active, tokens_valid_after
 FROM users WHERE realm_id = q.realm AND id = q.uid OFFSET 0) u ON true
ORDER BY q.i`

// errNoIntrospectionRow: readIntrospectionSQL returned no row, which its
// one-row subquery rules out.
var errNoIntrospectionRow = errors.New("storage/sql: introspection read returned no row")

// introspectionKey is one introspection read: the realm and the query.
type introspectionKey struct {
	realmID string
	q       realm.IntrospectionQuery
}

// ReadIntrospection reads what an introspection checks
// (realm.IntrospectionReader) through one statement prepared once on the
// read pool, as the token endpoint's reads are; on PostgreSQL concurrent
// reads share a statement (readbatch.go).
func (s *Store) ReadIntrospection(ctx context.Context, realmID string, q realm.IntrospectionQuery) (*realm.IntrospectionRead, error) {
	if s.rawReads() {
		return s.readIntrospectionRaw(ctx, realmID, q)
	}
	if s.batches != nil && !s.inTx && batchable(realmID, q.JTI, q.CallerID, q.TokenClientID, q.UserID) {
		return s.batches.introspection.read(ctx, introspectionKey{realmID, q})
	}
	return s.readIntrospectionOne(ctx, realmID, q)
}

// readIntrospectionOne is ReadIntrospection through database/sql, one
// query.
func (s *Store) readIntrospectionOne(ctx context.Context, realmID string, q realm.IntrospectionQuery) (*realm.IntrospectionRead, error) {
	rows, err := s.query(ctx, readIntrospectionSQL, realmID, q.JTI, realmID, q.CallerID, realmID, q.TokenClientID,
		realmID, q.UserID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var row introspectionRow
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		// The one-row subquery makes this impossible; saying so beats
		// reading "nothing revoked, nobody there".
		return nil, errNoIntrospectionRow
	}
	if err := rows.Scan(row.dest()...); err != nil {
		return nil, mapErr(err)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return row.read(realmID, q), nil
}

// readIntrospectionMany answers several introspection reads with
// readIntrospectionBatchSQL.
func (s *Store) readIntrospectionMany(ctx context.Context, calls []*batchCall[introspectionKey, *realm.IntrospectionRead]) error {
	realms, jtis, callers, tclients, users := make([]string, len(calls)), make([]string, len(calls)),
		make([]string, len(calls)), make([]string, len(calls)), make([]string, len(calls))
	for i, c := range calls {
		realms[i], jtis[i], callers[i], tclients[i], users[i] = c.q.realmID, c.q.q.JTI, c.q.q.CallerID, c.q.q.TokenClientID, c.q.q.UserID
	}
	rows, err := s.query(ctx, readIntrospectionBatchSQL, realms, jtis, callers, tclients, users)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	// One row per read: nothing to gather past the first.
	return gatherBatch(rows, calls, errNoIntrospectionRow,
		func() (*introspectionRow, []any) {
			r := new(introspectionRow)
			return r, r.dest()
		},
		func(_, _ *introspectionRow, _ *batchCall[introspectionKey, *realm.IntrospectionRead]) error {
			return nil
		},
		func(r *introspectionRow, c *batchCall[introspectionKey, *realm.IntrospectionRead]) {
			c.answer(r.read(c.q.realmID, c.q.q), nil)
		})
}

// introspectionRow holds readIntrospectionSQL's columns as database/sql
// scans them.
type introspectionRow struct {
	revoked           bool
	c                 callerColumns
	tcID              dbsql.NullString
	tcActive, uActive dbsql.NullBool
	tcAfter, uAfter   dbsql.NullTime
}

// dest returns the scan destinations, in the statement's column order.
func (r *introspectionRow) dest() []any {
	return []any{&r.revoked, &r.c.id, &r.c.kind, &r.c.active, &r.c.public, &r.c.orgID, &r.c.orgRole, &r.c.secret,
		&r.c.prev, &r.c.prevExp, &r.c.validAfter, &r.tcID, &r.tcActive, &r.tcAfter, &r.uActive, &r.uAfter}
}

// read is the answer the row gives to q in the realm.
func (r *introspectionRow) read(realmID string, q realm.IntrospectionQuery) *realm.IntrospectionRead {
	out := &realm.IntrospectionRead{Revoked: r.revoked}
	c := &r.c
	if c.id.Valid {
		out.Caller = &realm.Client{ID: c.id.String, RealmID: realmID, ClientID: q.CallerID,
			Kind: realm.ClientKind(c.kind.String), Active: c.active.Bool, Public: c.public.Bool,
			OrgID: c.orgID.String, OrgRole: realm.Role(c.orgRole.String),
			SecretHash: emptyNil(c.secret), PreviousSecretHash: emptyNil(c.prev),
			PreviousSecretExpiresAt: nullTimePtr(c.prevExp), TokensValidAfter: nullTimePtr(c.validAfter)}
	}
	if r.tcID.Valid {
		out.TokenClient = &realm.Client{ID: r.tcID.String, RealmID: realmID, ClientID: q.TokenClientID,
			Active: r.tcActive.Bool, TokensValidAfter: nullTimePtr(r.tcAfter)}
	}
	// active is NOT NULL: NULL means no such user.
	if r.uActive.Valid {
		out.User = &realm.User{ID: q.UserID, RealmID: realmID, Active: r.uActive.Bool, TokensValidAfter: nullTimePtr(r.uAfter)}
	}
	return out
}

// callerColumns are the caller's columns of readIntrospectionSQL, every
// one nullable (a LEFT JOIN).
type callerColumns struct {
	id, kind, orgID, orgRole dbsql.NullString
	active, public           dbsql.NullBool
	secret, prev             []byte
	prevExp, validAfter      dbsql.NullTime
}

// nullTimePtr is t in UTC, or nil when NULL.
func nullTimePtr(t dbsql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := fromDBTime(t.Time)
	return &u
}

// readIntrospectionRaw is ReadIntrospection through rawRead, column by
// column in readIntrospectionSQL's order.
func (s *Store) readIntrospectionRaw(ctx context.Context, realmID string, q realm.IntrospectionQuery) (*realm.IntrospectionRead, error) {
	var out *realm.IntrospectionRead
	err := s.rawRead(ctx, readIntrospectionSQL, []string{realmID, q.JTI, realmID, q.CallerID, realmID, q.TokenClientID, realmID, q.UserID},
		func(st *sqlite3.Stmt) error {
			if out != nil {
				return errors.New("storage/sql: introspection read returned more than one row")
			}
			out = &realm.IntrospectionRead{Revoked: st.ColumnBool(0)}
			if !rawNull(st, 1) {
				prevExp, err := rawTime(st, 9)
				if err != nil {
					return err
				}
				after, err := rawTime(st, 10)
				if err != nil {
					return err
				}
				out.Caller = &realm.Client{ID: st.ColumnText(1), RealmID: realmID, ClientID: q.CallerID,
					Kind: realm.ClientKind(st.ColumnText(2)), Active: st.ColumnBool(3), Public: st.ColumnBool(4),
					OrgID: st.ColumnText(5), OrgRole: realm.Role(st.ColumnText(6)),
					SecretHash: rawBlob(st, 7), PreviousSecretHash: rawBlob(st, 8),
					PreviousSecretExpiresAt: prevExp, TokensValidAfter: after}
			}
			if !rawNull(st, 11) {
				after, err := rawTime(st, 13)
				if err != nil {
					return err
				}
				out.TokenClient = &realm.Client{ID: st.ColumnText(11), RealmID: realmID, ClientID: q.TokenClientID,
					Active: st.ColumnBool(12), TokensValidAfter: after}
			}
			// active is NOT NULL: NULL means no such user.
			if !rawNull(st, 14) {
				after, err := rawTime(st, 15)
				if err != nil {
					return err
				}
				out.User = &realm.User{ID: q.UserID, RealmID: realmID, Active: st.ColumnBool(14), TokensValidAfter: after}
			}
			return nil
		})
	if err != nil {
		return nil, mapErr(err)
	}
	if out == nil {
		return nil, errNoIntrospectionRow
	}
	return out, nil
}
