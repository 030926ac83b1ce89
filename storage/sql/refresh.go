package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wardiam/ward/realm"
)

type refreshTokenModel struct {
	ID        string `gorm:"primaryKey"`
	RealmID   string `gorm:"primaryKey"`
	FamilyID  string
	SessionID string
	UserID    string
	ClientID  string
	AccessJTI string `gorm:"column:access_jti"`
	Offline   bool
	Data      []byte
	Used      bool
	Revoked   bool
	ExpiresAt time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	IPAddress string    `gorm:"column:ip_address"`
}

func (refreshTokenModel) TableName() string { return "refresh_tokens" }

const insertRefreshSQL = `INSERT INTO refresh_tokens
 (id, realm_id, family_id, session_id, user_id, client_id, access_jti, offline, data, used, revoked, expires_at, created_at, ip_address)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func insertRefreshArgs(t *realm.RefreshToken) []any {
	return []any{t.ID, t.RealmID, t.FamilyID, t.SessionID, t.UserID, t.ClientID, t.AccessJTI, t.Offline, t.Data,
		t.Used, t.Revoked, dbTime(t.ExpiresAt), dbTime(t.CreatedAt), t.IPAddress}
}

// CreateRefreshToken inserts t; an unknown realm is ErrNotFound.
func (s *Store) CreateRefreshToken(ctx context.Context, t *realm.RefreshToken) error {
	_, err := s.exec(ctx, insertRefreshSQL, insertRefreshArgs(t)...)
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// rotateRefreshPostgresSQL marks the parent used and inserts its successor
// in one statement (a data-modifying CTE, which SQLite lacks): one round
// trip instead of four (BEGIN, UPDATE, INSERT, COMMIT). The INSERT inserts
// nothing when the UPDATE matched nothing.
const rotateRefreshPostgresSQL = `WITH parent AS (
 UPDATE refresh_tokens SET used = TRUE WHERE realm_id = ? AND id = ? AND used = FALSE AND revoked = FALSE RETURNING id)
INSERT INTO refresh_tokens
 (id, realm_id, family_id, session_id, user_id, client_id, access_jti, offline, data, used, revoked, expires_at, created_at, ip_address)
 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM parent`

// RotateRefreshToken marks t's parent used and inserts t atomically, through
// prepared statements: the refresh grant's only write.
func (s *Store) RotateRefreshToken(ctx context.Context, t *realm.RefreshToken) error {
	if t.ParentID == "" {
		return errors.New("storage/sql: refresh token rotation without a parent")
	}
	if s.dialect == Postgres {
		res, err := s.exec(ctx, rotateRefreshPostgresSQL, append([]any{t.RealmID, t.ParentID}, insertRefreshArgs(t)...)...)
		if foreignKeyViolation(err) {
			return realm.ErrNotFound
		}
		if err != nil {
			return mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return mapErr(err)
		} else if n == 1 {
			return nil
		}
		// Used, revoked or missing.
		if _, err := s.GetRefreshToken(ctx, t.RealmID, t.ParentID); err != nil {
			return err
		}
		return realm.ErrAlreadyUsed
	}
	err := s.writeTx(ctx, []string{useRefreshSQL, touchRefreshSQL, insertRefreshSQL}, func(exec execFunc) error {
		res, err := exec(useRefreshSQL, true, t.RealmID, t.ParentID, false, false)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			// Used, revoked or missing: a no-op update tells which.
			res, err := exec(touchRefreshSQL, t.RealmID, t.ParentID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return realm.ErrNotFound
			}
			return realm.ErrAlreadyUsed
		}
		_, err = exec(insertRefreshSQL, insertRefreshArgs(t)...)
		return err
	})
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

const getRefreshSQL = `SELECT family_id, session_id, user_id, client_id, access_jti, offline, data, used, revoked,
 expires_at, created_at FROM refresh_tokens WHERE realm_id = ? AND id = ?`

// GetRefreshToken returns the token, used or revoked.
func (s *Store) GetRefreshToken(ctx context.Context, realmID, id string) (*realm.RefreshToken, error) {
	rows, err := s.query(ctx, getRefreshSQL, realmID, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		return nil, realm.ErrNotFound
	}
	t := &realm.RefreshToken{ID: id, RealmID: realmID}
	if err := rows.Scan(&t.FamilyID, &t.SessionID, &t.UserID, &t.ClientID, &t.AccessJTI, &t.Offline, &t.Data,
		&t.Used, &t.Revoked, &t.ExpiresAt, &t.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	t.ExpiresAt, t.CreatedAt = fromDBTime(t.ExpiresAt), fromDBTime(t.CreatedAt)
	return t, nil
}

// touchRefreshSQL changes nothing; its row count says whether the token
// exists (a statement writeTx can run like the others).
const touchRefreshSQL = `UPDATE refresh_tokens SET used = used WHERE realm_id = ? AND id = ?`

const useRefreshSQL = `UPDATE refresh_tokens SET used = ? WHERE realm_id = ? AND id = ? AND used = ? AND revoked = ?`

// UseRefreshToken marks the token used. The WHERE on used and revoked
// makes the update itself the decision between concurrent refreshes.
func (s *Store) UseRefreshToken(ctx context.Context, realmID, id string) error {
	res, err := s.exec(ctx, useRefreshSQL, true, realmID, id, false, false)
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.GetRefreshToken(ctx, realmID, id); err != nil {
		return err
	}
	return realm.ErrAlreadyUsed
}

// RevokeRefreshFamily revokes the family (see revokeRefreshTokens) and
// lists the access tokens issued with its tokens in the last accessTTL.
func (s *Store) RevokeRefreshFamily(ctx context.Context, realmID, familyID string, now time.Time, accessTTL time.Duration) ([]realm.RevokedAccess, error) {
	if err := s.revokeRefreshTokens(ctx, "realm_id = ? AND family_id = ? AND revoked = ?", realmID, familyID, false); err != nil {
		return nil, err
	}
	var rows []refreshTokenModel
	if err := s.q(ctx).Select("access_jti", "created_at").
		Where("realm_id = ? AND family_id = ? AND created_at > ? AND access_jti <> ?", realmID, familyID, dbTime(now.Add(-accessTTL)), "").
		Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.RevokedAccess, 0, len(rows))
	for _, r := range rows {
		out = append(out, realm.RevokedAccess{JTI: r.AccessJTI, ExpiresAt: fromDBTime(r.CreatedAt).Add(accessTTL)})
	}
	return out, nil
}

// retryable reports a Postgres deadlock or serialization failure (a
// statement that may simply be run again); SQLite serialises writers.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// RevokeUserRefreshTokens revokes every refresh token of the user.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, realmID, userID string) error {
	return s.revokeRefreshTokens(ctx, "realm_id = ? AND user_id = ? AND revoked = ?", realmID, userID, false)
}

// RevokeClientRefreshTokens revokes every refresh token issued to the
// client (deactivation: they must not come back with a reactivation).
func (s *Store) RevokeClientRefreshTokens(ctx context.Context, realmID, clientID string) error {
	return s.revokeRefreshTokens(ctx, "realm_id = ? AND client_id = ? AND revoked = ?", realmID, clientID, false)
}

// maxRevokePasses bounds revokeRefreshTokens' passes; each pass after the
// first needs a rotation that was already waiting, so two or three do.
const maxRevokePasses = 10

// revokeRefreshTokens sets revoked on the unrevoked tokens matching where.
// Concurrent revocations of one family can deadlock on Postgres (two
// multi-row UPDATEs locking rows in different orders; one is chosen as the
// victim): the work is idempotent, so a pass is retried.
//
// On Postgres, an UPDATE that waited for a row lock held by a rotation
// (RotateRefreshToken marks the parent used and inserts its successor)
// re-checks only the rows it had found, not the successor: so passes are
// repeated until one changes nothing. A pass that waited always changes a
// row (the parent it waited for), so a pass that changes none proves no
// rotation was in flight, and any rotation after it finds its parent
// revoked and inserts nothing. SQLite runs writers one at a time: one pass.
func (s *Store) revokeRefreshTokens(ctx context.Context, where string, args ...any) error {
	for range maxRevokePasses {
		var (
			n   int64
			err error
		)
		for attempt := 0; attempt < 5; attempt++ {
			res := s.q(ctx).Model(&refreshTokenModel{}).Where(where, args...).Update("revoked", true)
			n, err = res.RowsAffected, res.Error
			if !retryable(err) {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
		}
		if err != nil {
			return mapErr(err)
		}
		if s.dialect != Postgres || n == 0 {
			return nil
		}
	}
	return nil
}

const getBrowserSessionSQL = `SELECT user_id, token_hash, auth_time, expires_at, revoked, created_at
 FROM browser_sessions WHERE id = ? AND realm_id = ?`

// GetBrowserSession returns the realm's session by ID.
func (s *Store) GetBrowserSession(ctx context.Context, realmID, id string) (*realm.BrowserSession, error) {
	rows, err := s.query(ctx, getBrowserSessionSQL, id, realmID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		return nil, realm.ErrNotFound
	}
	bs := &realm.BrowserSession{ID: id, RealmID: realmID}
	if err := rows.Scan(&bs.UserID, &bs.TokenHash, &bs.AuthTime, &bs.ExpiresAt, &bs.Revoked, &bs.CreatedAt); err != nil {
		return nil, mapErr(err)
	}
	bs.AuthTime, bs.ExpiresAt, bs.CreatedAt = fromDBTime(bs.AuthTime), fromDBTime(bs.ExpiresAt), fromDBTime(bs.CreatedAt)
	return bs, nil
}

// DeleteExpiredRefreshTokens removes tokens that expired before now.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&refreshTokenModel{})
	return res.RowsAffected, mapErr(res.Error)
}

// getRefreshGrantSQL reads a refresh token, its browser session, its user
// and the user's groups with the realm's schema version in one statement:
// one row per group, or one row with NULL group columns (and NULL user or
// session columns when those are gone).
const getRefreshGrantSQL = `SELECT ` + refreshGrantColumns + `
FROM refresh_tokens t
JOIN realms r ON r.id = t.realm_id` + refreshGrantJoins

// refreshGrantColumns and refreshGrantJoins are the parts of
// getRefreshGrantSQL that readRefreshGrantSQL shares.
const (
	refreshGrantColumns = `t.family_id, t.session_id, t.user_id, t.client_id, t.access_jti, t.offline, t.data,
 t.used, t.revoked, t.expires_at, t.created_at,
 s.user_id, s.auth_time, s.expires_at, s.revoked,
 u.id, u.email, u.first_name, u.last_name, u.active, u.primary_group, r.schema_version, r.ip_allow_list,
 g.id, g.name, g.attributes, g.ip_allow_list`
	refreshGrantJoins = `
LEFT JOIN browser_sessions s ON s.id = t.session_id AND s.realm_id = t.realm_id
LEFT JOIN users u ON u.realm_id = t.realm_id AND u.id = t.user_id
LEFT JOIN user_groups ug ON ug.user_id = u.id
LEFT JOIN groups g ON g.realm_id = ug.realm_id AND g.id = ug.group_id
WHERE t.realm_id = ? AND t.id = ?
ORDER BY ug.group_id`
)

// readRefreshGrantSQL is getRefreshGrantSQL with the client the request
// names (realm.RefreshGrantReader): its row repeats on each of the grant's
// rows. The client's placeholder comes first.
const readRefreshGrantSQL = `SELECT ` + refreshGrantColumns + `, ` + claimsColumns + `
FROM refresh_tokens t
JOIN realms r ON r.id = t.realm_id
JOIN clients c ON c.realm_id = t.realm_id AND c.client_id = ?` + refreshGrantJoins

var _ realm.RefreshGrantReader = (*Store)(nil)

// readRefreshGrantBatchSQL is readRefreshGrantSQL for several grants at
// once (readbatch.go): each grant's rows are numbered by its place in the
// arrays (from 1), in that order, then by group; a grant whose token or
// client does not exist has none.
const readRefreshGrantBatchSQL = `SELECT q.i, ` + refreshGrantColumns + `, ` + claimsColumns + `
FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS q(realm, token, client, i)
JOIN LATERAL (SELECT t.realm_id, t.family_id, t.session_id, t.user_id, t.client_id, t.access_jti, t.offline, t.data,
 t.used, t.revoked, t.expires_at, t.created_at
 FROM refresh_tokens t WHERE t.realm_id = q.realm AND t.id = q.token OFFSET 0) t ON true
JOIN LATERAL (SELECT r.schema_version, r.ip_allow_list FROM realms r WHERE r.id = t.realm_id OFFSET 0) r ON true
JOIN LATERAL (SELECT ` + claimsColumns + `
 FROM clients c WHERE c.realm_id = t.realm_id AND c.client_id = q.client OFFSET 0) c ON true
LEFT JOIN LATERAL (SELECT s.user_id, s.auth_time, s.expires_at, s.revoked
 FROM browser_sessions s WHERE s.id = t.session_id AND s.realm_id = t.realm_id OFFSET 0) s ON true
LEFT JOIN LATERAL (SELECT u.id, u.email, u.first_name, u.last_name, u.active, u.primary_group
 FROM users u WHERE u.realm_id = t.realm_id AND u.id = t.user_id OFFSET 0) u ON true
LEFT JOIN LATERAL (SELECT g.id, g.name, g.attributes, g.ip_allow_list
 FROM user_groups ug JOIN groups g ON g.realm_id = ug.realm_id AND g.id = ug.group_id
 WHERE ug.user_id = u.id OFFSET 0) g ON true
ORDER BY q.i, g.id`

// refreshKey is one ReadRefreshGrant read.
type refreshKey struct{ realmID, tokenID, clientID string }

// refreshRead is ReadRefreshGrant's answer.
type refreshRead struct {
	grant  *realm.RefreshGrant
	client *realm.Client
}

// ReadRefreshGrant implements realm.RefreshGrantReader with one statement
// prepared once; on PostgreSQL concurrent reads share a statement
// (readbatch.go). The client's Groups are nil.
func (s *Store) ReadRefreshGrant(ctx context.Context, realmID, tokenID, clientID string) (*realm.RefreshGrant, *realm.Client, error) {
	if s.batches != nil && !s.inTx && batchable(realmID, tokenID, clientID) {
		r, err := s.batches.refresh.read(ctx, refreshKey{realmID, tokenID, clientID})
		return r.grant, r.client, err
	}
	r, err := s.readRefreshGrantOne(ctx, refreshKey{realmID, tokenID, clientID})
	return r.grant, r.client, err
}

// readRefreshGrantOne is ReadRefreshGrant with readRefreshGrantSQL.
func (s *Store) readRefreshGrantOne(ctx context.Context, k refreshKey) (refreshRead, error) {
	var a refreshScan
	if err := s.scanRefreshGrant(ctx, readRefreshGrantSQL, []any{k.clientID, k.realmID, k.tokenID}, k.realmID, &a, true); err != nil {
		return refreshRead{}, err
	}
	return a.read(k)
}

// readRefreshGrantMany answers several ReadRefreshGrant reads with
// readRefreshGrantBatchSQL.
func (s *Store) readRefreshGrantMany(ctx context.Context, calls []*batchCall[refreshKey, refreshRead]) error {
	realms, tokens, clients := make([]string, len(calls)), make([]string, len(calls)), make([]string, len(calls))
	for i, c := range calls {
		realms[i], tokens[i], clients[i] = c.q.realmID, c.q.tokenID, c.q.clientID
	}
	rows, err := s.query(ctx, readRefreshGrantBatchSQL, realms, tokens, clients)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	return gatherBatch(rows, calls, realm.ErrNotFound,
		func() (*refreshScan, []any) {
			a := new(refreshScan)
			return a, a.dest(true)
		},
		func(a, row *refreshScan, c *batchCall[refreshKey, refreshRead]) error {
			return a.add(s.attrs, c.q.realmID, row)
		},
		func(a *refreshScan, c *batchCall[refreshKey, refreshRead]) { c.answer(a.read(c.q)) })
}

// GetRefreshGrant reads a refresh token with its session and its user's
// claims: the refresh grant's one query before its write. Groups'
// Attributes maps are shared between calls (attrCache): read only.
func (s *Store) GetRefreshGrant(ctx context.Context, realmID, tokenID string) (*realm.RefreshGrant, error) {
	var a refreshScan
	if err := s.scanRefreshGrant(ctx, getRefreshGrantSQL, []any{realmID, tokenID}, realmID, &a, false); err != nil {
		return nil, err
	}
	return a.grant(realmID, tokenID)
}

// scanRefreshGrant runs query, a statement with refreshGrantColumns first
// (then claimsColumns when withClient), gathering its rows into a.
func (s *Store) scanRefreshGrant(ctx context.Context, query string, args []any, realmID string, a *refreshScan, withClient bool) error {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	// Every row fills every destination, so one set serves them all.
	dest := a.dest(withClient)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return mapErr(err)
		}
		if err := a.add(s.attrs, realmID, a); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}

// refreshScan gathers one refresh grant's rows of getRefreshGrantSQL,
// readRefreshGrantSQL or readRefreshGrantBatchSQL: the token, session,
// user, realm (and client) columns, the same on every row, and a group per
// row.
type refreshScan struct {
	t                                 realm.RefreshToken
	sUser                             dbsql.NullString
	sAuth, sExp                       dbsql.NullTime
	sRevoked, uActive                 dbsql.NullBool
	uID, uEmail, uFirst, uLast, uPrim dbsql.NullString
	version                           int64
	realmList                         string
	m                                 clientModel
	r                                 clientRow
	found                             bool
	g                                 groupRows
}

// dest returns scan destinations for refreshGrantColumns, then
// claimsColumns when withClient.
func (a *refreshScan) dest(withClient bool) []any {
	t := &a.t
	dest := []any{&t.FamilyID, &t.SessionID, &t.UserID, &t.ClientID, &t.AccessJTI, &t.Offline, &t.Data,
		&t.Used, &t.Revoked, &t.ExpiresAt, &t.CreatedAt,
		&a.sUser, &a.sAuth, &a.sExp, &a.sRevoked,
		&a.uID, &a.uEmail, &a.uFirst, &a.uLast, &a.uActive, &a.uPrim, &a.version, &a.realmList}
	dest = append(dest, a.g.dest()...)
	if withClient {
		dest = append(dest, a.r.claimsDest(&a.m)...)
	}
	return dest
}

// add takes in a row of the grant: its other columns on the first (a
// itself holds them), its group columns from row.
func (a *refreshScan) add(attrCache *attrCache, realmID string, row *refreshScan) error {
	if !a.found {
		a.found = true
		a.g.groups, a.g.ids = []realm.Group{}, []string{}
	}
	return a.g.add(attrCache, realmID, &row.g)
}

// read is ReadRefreshGrant's answer from the rows gathered.
func (a *refreshScan) read(k refreshKey) (refreshRead, error) {
	g, err := a.grant(k.realmID, k.tokenID)
	if err != nil {
		return refreshRead{}, err
	}
	a.r.fill(&a.m)
	c, err := fromClient(a.m, nil)
	if err != nil {
		return refreshRead{}, err
	}
	return refreshRead{g, &c}, nil
}

// grant is the refresh grant the rows gathered hold, or realm.ErrNotFound
// when there were none.
func (a *refreshScan) grant(realmID, tokenID string) (*realm.RefreshGrant, error) {
	if !a.found {
		return nil, realm.ErrNotFound
	}
	t := a.t
	t.ID, t.RealmID = tokenID, realmID
	t.ExpiresAt, t.CreatedAt = fromDBTime(t.ExpiresAt), fromDBTime(t.CreatedAt)
	g := &realm.RefreshGrant{Token: &t}
	if a.uID.Valid {
		rl, err := decodeIPAllowList(a.realmList)
		if err != nil {
			return nil, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", realmID, err)
		}
		g.User = &realm.UserClaims{
			User: &realm.User{ID: a.uID.String, RealmID: realmID, Email: a.uEmail.String, FirstName: a.uFirst.String,
				LastName: a.uLast.String, Active: a.uActive.Bool, Groups: a.g.ids, PrimaryGroup: a.uPrim.String},
			Groups: a.g.groups, SchemaVersion: a.version, RealmIPAllowList: rl,
		}
	}
	if a.sUser.Valid {
		g.Session = &realm.BrowserSession{ID: t.SessionID, RealmID: realmID, UserID: a.sUser.String,
			AuthTime: fromDBTime(a.sAuth.Time), ExpiresAt: fromDBTime(a.sExp.Time), Revoked: a.sRevoked.Bool}
	}
	return g, nil
}
