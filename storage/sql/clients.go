package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"

	"github.com/ncruces/go-sqlite3"

	"github.com/wardiam/ward/realm"
)

// CreateClient inserts c and its group memberships.
func (s *Store) CreateClient(ctx context.Context, c *realm.Client) error {
	m, err := toClient(c)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Create(&m).Error
		if foreignKeyViolation(err) {
			return realm.ErrNotFound // no such realm or org
		}
		if err != nil {
			return mapErr(err)
		}
		return tx.setClientGroups(ctx, c.RealmID, c.ID, c.Groups, false)
	})
}

func (s *Store) setClientGroups(ctx context.Context, realmID, clientPK string, groups []string, replace bool) error {
	if replace {
		if err := s.q(ctx).Where("client_pk = ?", clientPK).Delete(&clientGroupModel{}).Error; err != nil {
			return mapErr(err)
		}
	}
	groups = uniqueSorted(groups)
	if len(groups) == 0 {
		return nil
	}
	rows := make([]clientGroupModel, len(groups))
	for i, g := range groups {
		rows[i] = clientGroupModel{RealmID: realmID, ClientPK: clientPK, GroupID: g}
	}
	err := s.q(ctx).Create(&rows).Error
	if foreignKeyViolation(err) {
		return realm.Invalid("groups", "no such group in this realm")
	}
	return mapErr(err)
}

// clientColumns are the clients columns GetClient reads (every one), in the
// order clientRow.dest scans them.
const clientColumns = `c.id, c.realm_id, c.client_id, c.name, c.description, c.kind, c.active, c.public,
 c.audience, c.primary_group, c.redirect_uris, c.web_origins, c.communication, c.display_name, c.org_id,
 c.org_role, c.secret_hash, c.previous_secret_hash, c.previous_secret_expires_at, c.created_at, c.updated_at,
 c.allow_offline_access, c.id_token_alg, c.tokens_valid_after, c.default_scopes, c.optional_scopes`

// getClientSQL reads a client and its group IDs in one query: one row per
// group, or one row with a NULL group.
const getClientSQL = `SELECT ` + clientColumns + `, cg.group_id
FROM clients c LEFT JOIN client_groups cg ON cg.client_pk = c.id
WHERE c.realm_id = ? AND c.client_id = ?
ORDER BY cg.group_id`

// claimsColumns are the clients columns GetClientClaims reads, in the order
// claimsRow scans them: what authenticating a client and issuing its token
// use. Name, description, display name, communication, the scopes (read
// with the full client by the authorization endpoint) and the timestamps
// other than tokens_valid_after are left out (they cost row conversion,
// timestamp parsing included, on every grant); redirect URIs and web
// origins stay, since application clients authenticate through the same
// path.
const claimsColumns = `c.id, c.realm_id, c.client_id, c.kind, c.active, c.public, c.audience, c.primary_group,
 c.redirect_uris, c.web_origins, c.org_id, c.org_role, c.secret_hash, c.previous_secret_hash,
 c.previous_secret_expires_at, c.allow_offline_access, c.id_token_alg, c.tokens_valid_after`

// getClientClaimsSQL reads a client, its groups (name and attribute values)
// and the realm's attribute schema version in one statement, hence from one
// snapshot: one row per group, or one row with NULL group columns. Rows are
// ordered by cg.group_id (equal to g.id), which is the order SQLite reads
// client_groups' primary key in: no sort step.
const getClientClaimsSQL = `SELECT ` + claimsColumns + `, r.schema_version, r.ip_allow_list,
 g.id, g.name, g.attributes, g.ip_allow_list
FROM clients c
JOIN realms r ON r.id = c.realm_id
LEFT JOIN client_groups cg ON cg.client_pk = c.id
LEFT JOIN groups g ON g.realm_id = cg.realm_id AND g.id = cg.group_id
WHERE c.realm_id = ? AND c.client_id = ?
ORDER BY cg.group_id`

// clientRow is one row of the hot-path client queries.
type clientRow struct {
	orgID      dbsql.NullString
	prevExp    dbsql.NullTime
	validAfter dbsql.NullTime
	secret     []byte
	prev       []byte
}

// dest returns scan destinations for clientColumns into m.
func (r *clientRow) dest(m *clientModel) []any {
	return []any{&m.ID, &m.RealmID, &m.ClientID, &m.Name, &m.Description, &m.Kind, &m.Active, &m.Public,
		&m.Audience, &m.PrimaryGroup, &m.RedirectURIs, &m.WebOrigins, &m.Communication, &m.DisplayName, &r.orgID,
		&m.OrgRole, &r.secret, &r.prev, &r.prevExp, &m.CreatedAt, &m.UpdatedAt,
		&m.AllowOfflineAccess, &m.IDTokenAlg, &r.validAfter, &m.DefaultScopes, &m.OptionalScopes}
}

// fill moves the nullable columns of the first row into m.
func (r *clientRow) fill(m *clientModel) {
	m.SecretHash, m.PreviousSecretHash = r.secret, r.prev
	if r.orgID.Valid {
		org := r.orgID.String // a copy: r may be scanned into again
		m.OrgID = &org
	}
	if r.prevExp.Valid {
		exp := r.prevExp.Time
		m.PreviousSecretExpiresAt = &exp
	}
	if r.validAfter.Valid {
		after := r.validAfter.Time
		m.TokensValidAfter = &after
	}
}

// claimsDest returns scan destinations for claimsColumns into m.
func (r *clientRow) claimsDest(m *clientModel) []any {
	return []any{&m.ID, &m.RealmID, &m.ClientID, &m.Kind, &m.Active, &m.Public, &m.Audience, &m.PrimaryGroup,
		&m.RedirectURIs, &m.WebOrigins, &r.orgID, &m.OrgRole, &r.secret, &r.prev, &r.prevExp,
		&m.AllowOfflineAccess, &m.IDTokenAlg, &r.validAfter}
}

// GetClient finds a client of the realm by OAuth2 client_id. It is on the
// token endpoint's path: one query, through a statement prepared once.
func (s *Store) GetClient(ctx context.Context, realmID, clientID string) (*realm.Client, error) {
	rows, err := s.query(ctx, getClientSQL, realmID, clientID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var (
		m      clientModel
		groups []string
		found  bool
	)
	for rows.Next() {
		var (
			r     clientRow
			group dbsql.NullString
		)
		if err := rows.Scan(append(r.dest(&m), &group)...); err != nil {
			return nil, mapErr(err)
		}
		if !found {
			found = true
			r.fill(&m)
		}
		if group.Valid {
			groups = append(groups, group.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	if !found {
		return nil, realm.ErrNotFound
	}
	c, err := fromClient(m, groups)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// GetClientClaims finds a client with its groups and the realm's attribute
// schema version: the token endpoint's one query per grant. The client
// carries only what authenticating it and issuing its tokens use (see
// claimsColumns): Name, Description, DisplayName, Communication,
// DefaultScopes, OptionalScopes, CreatedAt and UpdatedAt are left zero. The groups carry ID, RealmID, Name and
// Attributes; their Attributes maps are shared between calls (see
// attrCache) and must only be read.
func (s *Store) GetClientClaims(ctx context.Context, realmID, clientID string) (*realm.ClientClaims, error) {
	if s.rawReads() {
		return s.getClientClaimsRaw(ctx, realmID, clientID)
	}
	if s.batches != nil && !s.inTx && batchable(realmID, clientID) {
		return s.batches.claims.read(ctx, claimsKey{realmID, clientID})
	}
	return s.getClientClaimsOne(ctx, realmID, clientID)
}

// getClientClaimsOne is GetClientClaims through database/sql, one query.
func (s *Store) getClientClaimsOne(ctx context.Context, realmID, clientID string) (*realm.ClientClaims, error) {
	rows, err := s.query(ctx, getClientClaimsSQL, realmID, clientID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var a claimsScan
	// Every row fills every destination, so one set serves them all.
	dest := a.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, mapErr(err)
		}
		if err := a.add(s.attrs, realmID, &a); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return a.result(realmID)
}

// getClientClaimsBatchSQL is getClientClaimsSQL for several clients at
// once (readbatch.go): each client's rows are numbered by its place in the
// arrays (from 1), in that order, then by group; a client that does not
// exist has none.
const getClientClaimsBatchSQL = `SELECT q.i, ` + claimsColumns + `, r.schema_version, r.ip_allow_list,
 g.id, g.name, g.attributes, g.ip_allow_list
FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS q(realm, client, i)
JOIN LATERAL (SELECT ` + claimsColumns + `
 FROM clients c WHERE c.realm_id = q.realm AND c.client_id = q.client OFFSET 0) c ON true
JOIN LATERAL (SELECT schema_version, ip_allow_list FROM realms WHERE id = c.realm_id OFFSET 0) r ON true
LEFT JOIN LATERAL (SELECT g.id, g.name, g.attributes, g.ip_allow_list
 FROM client_groups cg JOIN groups g ON g.realm_id = cg.realm_id AND g.id = cg.group_id
 WHERE cg.client_pk = c.id OFFSET 0) g ON true
ORDER BY q.i, g.id`

// claimsKey is one GetClientClaims read.
type claimsKey struct{ realmID, clientID string }

// getClientClaimsMany answers several GetClientClaims reads with
// getClientClaimsBatchSQL.
func (s *Store) getClientClaimsMany(ctx context.Context, calls []*batchCall[claimsKey, *realm.ClientClaims]) error {
	realms, clients := make([]string, len(calls)), make([]string, len(calls))
	for i, c := range calls {
		realms[i], clients[i] = c.q.realmID, c.q.clientID
	}
	rows, err := s.query(ctx, getClientClaimsBatchSQL, realms, clients)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	return gatherBatch(rows, calls, realm.ErrNotFound,
		func() (*claimsScan, []any) {
			a := new(claimsScan)
			return a, a.dest()
		},
		func(a, row *claimsScan, c *batchCall[claimsKey, *realm.ClientClaims]) error {
			return a.add(s.attrs, c.q.realmID, row)
		},
		func(a *claimsScan, c *batchCall[claimsKey, *realm.ClientClaims]) { c.answer(a.result(c.q.realmID)) })
}

// claimsScan gathers one client's rows of getClientClaimsSQL.
type claimsScan struct {
	m         clientModel
	r         clientRow
	version   int64
	realmList string
	found     bool
	g         groupRows
}

// dest returns scan destinations for getClientClaimsSQL's columns.
func (a *claimsScan) dest() []any {
	return append(append(a.r.claimsDest(&a.m), &a.version, &a.realmList), a.g.dest()...)
}

// add takes in a row of the client: its client columns on the first (a
// itself holds them), its group columns from row.
func (a *claimsScan) add(attrCache *attrCache, realmID string, row *claimsScan) error {
	if !a.found {
		a.found = true
		a.r.fill(&a.m)
	}
	return a.g.add(attrCache, realmID, &row.g)
}

// groupRows gathers the groups of a statement's rows, one per row (ID,
// name, attribute values, IP allow list; a NULL ID is none).
type groupRows struct {
	ids    []string
	groups []realm.Group
	// The group columns of the row scanned last.
	id, name, values, list dbsql.NullString
}

// dest returns scan destinations for the four group columns.
func (g *groupRows) dest() []any { return []any{&g.id, &g.name, &g.values, &g.list} }

// add appends the group row's columns describe, if any.
func (g *groupRows) add(attrCache *attrCache, realmID string, row *groupRows) error {
	if !row.id.Valid {
		return nil
	}
	group, err := groupFromColumns(attrCache, realmID, row.id.String, row.name.String, row.values.String, row.list.String)
	if err != nil {
		return err
	}
	g.ids = append(g.ids, group.ID)
	g.groups = append(g.groups, group)
	return nil
}

// groupFromColumns is the group a row's group columns (ID, name, attribute
// values, IP allow list) describe.
func groupFromColumns(attrCache *attrCache, realmID, id, name, values, list string) (realm.Group, error) {
	attrs, err := attrCache.get(id, values)
	if err != nil {
		return realm.Group{}, err
	}
	gl, err := decodeIPAllowList(list)
	if err != nil {
		return realm.Group{}, fmt.Errorf("storage/sql: decode IP allow list of group %s: %w", id, err)
	}
	return realm.Group{ID: id, RealmID: realmID, Name: name, Attributes: attrs, IPAllowList: gl}, nil
}

// result is the client's claims, or realm.ErrNotFound when no row came.
func (a *claimsScan) result(realmID string) (*realm.ClientClaims, error) {
	if !a.found {
		return nil, realm.ErrNotFound
	}
	return clientClaims(realmID, a.m, a.g.ids, a.g.groups, a.version, a.realmList)
}

// clientClaims assembles GetClientClaims' answer from what its rows held.
func clientClaims(realmID string, m clientModel, ids []string, groups []realm.Group, version int64, realmList string) (*realm.ClientClaims, error) {
	c, err := fromClient(m, ids)
	if err != nil {
		return nil, err
	}
	if groups == nil {
		groups = []realm.Group{}
	}
	rl, err := decodeIPAllowList(realmList)
	if err != nil {
		return nil, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", realmID, err)
	}
	return &realm.ClientClaims{Client: &c, Groups: groups, SchemaVersion: version, RealmIPAllowList: rl}, nil
}

// getClientClaimsRaw is GetClientClaims through rawRead (rawread.go),
// column by column in getClientClaimsSQL's order.
func (s *Store) getClientClaimsRaw(ctx context.Context, realmID, clientID string) (*realm.ClientClaims, error) {
	var (
		m         clientModel
		ids       []string
		groups    []realm.Group
		version   int64
		realmList string
		found     bool
	)
	const first = 18 // getClientClaimsSQL's columns after claimsColumns
	err := s.rawRead(ctx, getClientClaimsSQL, []string{realmID, clientID}, func(st *sqlite3.Stmt) error {
		if !found {
			found = true
			if err := rawClientClaims(st, &m); err != nil {
				return err
			}
			version, realmList = st.ColumnInt64(first), st.ColumnText(first+1)
		}
		if rawNull(st, first+2) {
			return nil
		}
		g, err := groupFromColumns(s.attrs, realmID, st.ColumnText(first+2), st.ColumnText(first+3),
			string(st.ColumnRawText(first+4)), string(st.ColumnRawText(first+5)))
		if err != nil {
			return err
		}
		ids = append(ids, g.ID)
		groups = append(groups, g)
		return nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if !found {
		return nil, realm.ErrNotFound
	}
	return clientClaims(realmID, m, ids, groups, version, realmList)
}

// rawClientClaims reads claimsColumns, the statement's first columns, into
// m as clientRow's claimsDest and fill would.
func rawClientClaims(st *sqlite3.Stmt, m *clientModel) error {
	m.ID, m.RealmID, m.ClientID, m.Kind = st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)
	m.Active, m.Public = st.ColumnBool(4), st.ColumnBool(5)
	m.Audience, m.PrimaryGroup, m.RedirectURIs, m.WebOrigins = st.ColumnText(6), st.ColumnText(7), st.ColumnText(8), st.ColumnText(9)
	if !rawNull(st, 10) {
		org := st.ColumnText(10)
		m.OrgID = &org
	}
	m.OrgRole = st.ColumnText(11)
	m.SecretHash, m.PreviousSecretHash = rawBlob(st, 12), rawBlob(st, 13)
	var err error
	if m.PreviousSecretExpiresAt, err = rawTime(st, 14); err != nil {
		return err
	}
	m.AllowOfflineAccess, m.IDTokenAlg = st.ColumnBool(15), st.ColumnText(16)
	m.TokensValidAfter, err = rawTime(st, 17)
	return err
}

// ListClients lists the realm's clients by ID; Query matches name and
// client_id; orgID, when set, keeps the clients acting for that org.
func (s *Store) ListClients(ctx context.Context, realmID, orgID string, opts realm.ListOptions) (realm.Page[realm.Client], error) {
	db := s.q(ctx).Model(&clientModel{}).Where("realm_id = ?", realmID)
	if orgID != "" {
		db = db.Where("org_id = ?", orgID)
	}
	db = whereQuery(db, opts.Query, "name", "client_id")
	rows, next, err := keysetPage(db, "id", opts.Cursor, clampLimit(opts.Limit), func(m clientModel) string { return m.ID })
	if err != nil {
		return realm.Page[realm.Client]{}, mapErr(err)
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.ID
	}
	groups := map[string][]string{}
	if len(ids) > 0 {
		var links []clientGroupModel
		if err := s.q(ctx).Where("client_pk IN ?", ids).Order("client_pk, group_id").Find(&links).Error; err != nil {
			return realm.Page[realm.Client]{}, mapErr(err)
		}
		for _, l := range links {
			groups[l.ClientPK] = append(groups[l.ClientPK], l.GroupID)
		}
	}
	items := make([]realm.Client, len(rows))
	for i, m := range rows {
		if items[i], err = fromClient(m, groups[m.ID]); err != nil {
			return realm.Page[realm.Client]{}, err
		}
	}
	return pageOf(items, next), nil
}

// UpdateClient saves every field of c and replaces its memberships. The
// client is found by realm and internal ID.
func (s *Store) UpdateClient(ctx context.Context, c *realm.Client) error {
	m, err := toClient(c)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&clientModel{}).Where("realm_id = ? AND id = ?", c.RealmID, c.ID).Updates(map[string]any{
			"client_id":                  m.ClientID,
			"name":                       m.Name,
			"description":                m.Description,
			"kind":                       m.Kind,
			"active":                     m.Active,
			"public":                     m.Public,
			"audience":                   m.Audience,
			"primary_group":              m.PrimaryGroup,
			"redirect_uris":              m.RedirectURIs,
			"web_origins":                m.WebOrigins,
			"communication":              m.Communication,
			"display_name":               m.DisplayName,
			"org_id":                     m.OrgID,
			"org_role":                   m.OrgRole,
			"secret_hash":                m.SecretHash,
			"previous_secret_hash":       m.PreviousSecretHash,
			"previous_secret_expires_at": m.PreviousSecretExpiresAt,
			"updated_at":                 m.UpdatedAt,
			"allow_offline_access":       m.AllowOfflineAccess,
			"id_token_alg":               m.IDTokenAlg,
			"tokens_valid_after":         m.TokensValidAfter,
			"default_scopes":             m.DefaultScopes,
			"optional_scopes":            m.OptionalScopes,
		})
		if foreignKeyViolation(res.Error) {
			return realm.ErrNotFound // no such org
		}
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		tx.tokenChanges.add(c.RealmID)
		return tx.setClientGroups(ctx, c.RealmID, c.ID, c.Groups, true)
	})
}
