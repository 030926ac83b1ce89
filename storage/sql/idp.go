package sql

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"

	"github.com/wardiam/ward/realm"
)

var _ realm.IdentityProviderStore = (*Store)(nil)

// identityProviderModel is a row of identity_providers. The settings of
// the provider's kind are in the saml_* or oidc_* columns, NULL for the
// other kind; the lists are JSON arrays.
type identityProviderModel struct {
	ID                     string `gorm:"primaryKey"`
	RealmID                string
	Alias                  string
	Kind                   string
	DisplayName            string
	Enabled                bool
	DisabledReason         string
	SAMLMetadataURL        *string `gorm:"column:saml_metadata_url"`
	SAMLMetadataXML        *string `gorm:"column:saml_metadata_xml"`
	SAMLSPKeySealed        []byte  `gorm:"column:saml_sp_key_sealed"`
	SAMLSPCertificate      []byte  `gorm:"column:saml_sp_certificate"`
	OIDCIssuer             *string `gorm:"column:oidc_issuer"`
	OIDCClientID           *string `gorm:"column:oidc_client_id"`
	OIDCClientSecretSealed []byte  `gorm:"column:oidc_client_secret_sealed"`
	OIDCScopes             *string `gorm:"column:oidc_scopes"`
	JIT                    bool    `gorm:"column:jit"`
	LinkByEmail            bool
	GroupClaim             string
	GroupMappings          string
	DefaultGroups          string
	EmailAttribute         string
	FirstNameAttribute     string
	LastNameAttribute      string
	CreatedAt              time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt              time.Time `gorm:"autoUpdateTime:false"`
}

func (identityProviderModel) TableName() string { return "identity_providers" }

// groupMappingJSON is a stored group mapping; the names are the stored
// format's, independent of the domain type.
type groupMappingJSON struct {
	External string `json:"external"`
	Group    string `json:"group"`
}

type userIdentityModel struct {
	RealmID    string `gorm:"primaryKey"`
	ProviderID string `gorm:"primaryKey"`
	Subject    string `gorm:"primaryKey"`
	UserID     string
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
}

func (userIdentityModel) TableName() string { return "user_identities" }

type brokerStateModel struct {
	RealmID        string `gorm:"primaryKey"`
	ID             []byte `gorm:"primaryKey"`
	ProviderID     string
	RequestID      string
	VerifierSealed []byte
	ContinueParams string
	ExpiresAt      time.Time
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
}

func (brokerStateModel) TableName() string { return "broker_states" }

// toIdentityProvider builds the row of p, with the settings of p's kind
// only. The group lists are stored in their documented order (mappings by
// External then Group, default groups sorted; byte order), whatever order
// they came in; p is not changed.
func toIdentityProvider(p *realm.IdentityProvider) (identityProviderModel, error) {
	m := identityProviderModel{ID: p.ID, RealmID: p.RealmID, Alias: p.Alias, Kind: string(p.Kind),
		DisplayName: p.DisplayName, Enabled: p.Enabled, DisabledReason: p.DisabledReason,
		JIT: p.JIT, LinkByEmail: p.LinkByEmail, GroupClaim: p.GroupClaim,
		EmailAttribute: p.Attributes.Email, FirstNameAttribute: p.Attributes.FirstName,
		LastNameAttribute: p.Attributes.LastName,
		CreatedAt:         dbTime(p.CreatedAt), UpdatedAt: dbTime(p.UpdatedAt)}
	switch p.Kind {
	case realm.IdPSAML:
		var st realm.SAMLSettings
		if p.SAML != nil {
			st = *p.SAML
		}
		m.SAMLMetadataURL, m.SAMLMetadataXML = &st.MetadataURL, &st.MetadataXML
		m.SAMLSPKeySealed, m.SAMLSPCertificate = emptyNil(st.SPKeySealed), emptyNil(st.SPCertificate)
	case realm.IdPOIDC:
		var st realm.OIDCSettings
		if p.OIDC != nil {
			st = *p.OIDC
		}
		scopes, err := encodeJSON(st.Scopes, "[]")
		if err != nil {
			return identityProviderModel{}, fmt.Errorf("storage/sql: encode identity provider scopes: %w", err)
		}
		m.OIDCIssuer, m.OIDCClientID, m.OIDCScopes = &st.Issuer, &st.ClientID, &scopes
		m.OIDCClientSecretSealed = emptyNil(st.ClientSecretSealed)
	}
	mappings := make([]groupMappingJSON, len(p.GroupMappings))
	for i, gm := range p.GroupMappings {
		mappings[i] = groupMappingJSON{External: gm.External, Group: gm.Group}
	}
	slices.SortFunc(mappings, func(a, b groupMappingJSON) int {
		return cmp.Or(strings.Compare(a.External, b.External), strings.Compare(a.Group, b.Group))
	})
	defaults := slices.Clone(p.DefaultGroups)
	slices.Sort(defaults)
	var err error
	if m.GroupMappings, err = encodeJSON(mappings, "[]"); err != nil {
		return identityProviderModel{}, fmt.Errorf("storage/sql: encode identity provider group mappings: %w", err)
	}
	if m.DefaultGroups, err = encodeJSON(defaults, "[]"); err != nil {
		return identityProviderModel{}, fmt.Errorf("storage/sql: encode identity provider default groups: %w", err)
	}
	return m, nil
}

// fromIdentityProvider reads a row: the settings of the provider's kind are
// never nil (those of the other kind always are), the lists never nil, the
// byte strings nil when empty.
func fromIdentityProvider(m identityProviderModel) (realm.IdentityProvider, error) {
	p := realm.IdentityProvider{ID: m.ID, RealmID: m.RealmID, Alias: m.Alias, Kind: realm.IdPKind(m.Kind),
		DisplayName: m.DisplayName, Enabled: m.Enabled, DisabledReason: m.DisabledReason,
		JIT: m.JIT, LinkByEmail: m.LinkByEmail, GroupClaim: m.GroupClaim,
		GroupMappings: []realm.GroupMapping{}, DefaultGroups: []string{},
		Attributes: realm.IdPAttributeNames{Email: m.EmailAttribute, FirstName: m.FirstNameAttribute,
			LastName: m.LastNameAttribute},
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}
	switch p.Kind {
	case realm.IdPSAML:
		p.SAML = &realm.SAMLSettings{MetadataURL: derefString(m.SAMLMetadataURL), MetadataXML: derefString(m.SAMLMetadataXML),
			SPKeySealed: emptyNil(m.SAMLSPKeySealed), SPCertificate: emptyNil(m.SAMLSPCertificate)}
	case realm.IdPOIDC:
		p.OIDC = &realm.OIDCSettings{Issuer: derefString(m.OIDCIssuer), ClientID: derefString(m.OIDCClientID),
			ClientSecretSealed: emptyNil(m.OIDCClientSecretSealed), Scopes: []string{}}
		if err := decodeJSON(derefString(m.OIDCScopes), &p.OIDC.Scopes); err != nil {
			return realm.IdentityProvider{}, fmt.Errorf("storage/sql: decode scopes of identity provider %s: %w", m.ID, err)
		}
		if p.OIDC.Scopes == nil {
			p.OIDC.Scopes = []string{}
		}
	}
	var mappings []groupMappingJSON
	if err := decodeJSON(m.GroupMappings, &mappings); err != nil {
		return realm.IdentityProvider{}, fmt.Errorf("storage/sql: decode group mappings of identity provider %s: %w", m.ID, err)
	}
	for _, gm := range mappings {
		p.GroupMappings = append(p.GroupMappings, realm.GroupMapping{External: gm.External, Group: gm.Group})
	}
	if err := decodeJSON(m.DefaultGroups, &p.DefaultGroups); err != nil {
		return realm.IdentityProvider{}, fmt.Errorf("storage/sql: decode default groups of identity provider %s: %w", m.ID, err)
	}
	if p.DefaultGroups == nil {
		p.DefaultGroups = []string{}
	}
	return p, nil
}

// CreateIdentityProvider inserts p; an alias the realm already has is a
// conflict on alias, an unknown realm ErrNotFound.
func (s *Store) CreateIdentityProvider(ctx context.Context, p *realm.IdentityProvider) error {
	m, err := toIdentityProvider(p)
	if err != nil {
		return err
	}
	err = s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// GetIdentityProvider finds the realm's provider by alias.
func (s *Store) GetIdentityProvider(ctx context.Context, realmID, alias string) (*realm.IdentityProvider, error) {
	return s.getIdentityProvider(ctx, "realm_id = ? AND alias = ?", realmID, alias)
}

// GetIdentityProviderByID finds the realm's provider by ID.
func (s *Store) GetIdentityProviderByID(ctx context.Context, realmID, id string) (*realm.IdentityProvider, error) {
	return s.getIdentityProvider(ctx, "realm_id = ? AND id = ?", realmID, id)
}

func (s *Store) getIdentityProvider(ctx context.Context, where, realmID, key string) (*realm.IdentityProvider, error) {
	var m identityProviderModel
	if err := s.q(ctx).Where(where, realmID, key).Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	p, err := fromIdentityProvider(m)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ListIdentityProviders lists the realm's providers by alias.
func (s *Store) ListIdentityProviders(ctx context.Context, realmID string) ([]realm.IdentityProvider, error) {
	var rows []identityProviderModel
	if err := s.q(ctx).Where("realm_id = ?", realmID).Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.IdentityProvider, len(rows))
	for i, m := range rows {
		p, err := fromIdentityProvider(m)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	// Byte order on every backend, whatever the collation makes of '-'
	// and '_'; there are at most realm.MaxIdentityProviders.
	slices.SortFunc(out, func(a, b realm.IdentityProvider) int { return strings.Compare(a.Alias, b.Alias) })
	return out, nil
}

// ListIdentityProviderChoices reads two columns of the realm's enabled
// providers.
func (s *Store) ListIdentityProviderChoices(ctx context.Context, realmID string) ([]realm.IdentityProviderChoice, error) {
	var rows []struct {
		Alias       string
		DisplayName string
	}
	if err := s.q(ctx).Model(&identityProviderModel{}).Select("alias", "display_name").
		Where("realm_id = ? AND enabled = ?", realmID, true).Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.IdentityProviderChoice, len(rows))
	for i, r := range rows {
		out[i] = realm.IdentityProviderChoice{Alias: r.Alias, DisplayName: r.DisplayName}
	}
	slices.SortFunc(out, func(a, b realm.IdentityProviderChoice) int { return strings.Compare(a.Alias, b.Alias) })
	return out, nil
}

// UpdateIdentityProvider saves everything of p but its ID, realm, alias,
// kind and creation time. The settings saved are those of the provider's
// stored kind (p's Kind is not read), so that a provider never holds the
// settings of the other kind.
func (s *Store) UpdateIdentityProvider(ctx context.Context, p *realm.IdentityProvider) error {
	return s.tx(ctx, func(tx *Store) error {
		var kind string
		if err := tx.q(ctx).Model(&identityProviderModel{}).Select("kind").
			Where("realm_id = ? AND id = ?", p.RealmID, p.ID).Take(&kind).Error; err != nil {
			return mapErr(err)
		}
		stored := *p
		stored.Kind = realm.IdPKind(kind)
		m, err := toIdentityProvider(&stored)
		if err != nil {
			return err
		}
		// A map, so that gorm writes NULLs and zero values too.
		res := tx.q(ctx).Model(&identityProviderModel{}).Where("realm_id = ? AND id = ?", p.RealmID, p.ID).Updates(map[string]any{
			"display_name":              m.DisplayName,
			"enabled":                   m.Enabled,
			"disabled_reason":           m.DisabledReason,
			"saml_metadata_url":         m.SAMLMetadataURL,
			"saml_metadata_xml":         m.SAMLMetadataXML,
			"saml_sp_key_sealed":        m.SAMLSPKeySealed,
			"saml_sp_certificate":       m.SAMLSPCertificate,
			"oidc_issuer":               m.OIDCIssuer,
			"oidc_client_id":            m.OIDCClientID,
			"oidc_client_secret_sealed": m.OIDCClientSecretSealed,
			"oidc_scopes":               m.OIDCScopes,
			"jit":                       m.JIT,
			"link_by_email":             m.LinkByEmail,
			"group_claim":               m.GroupClaim,
			"group_mappings":            m.GroupMappings,
			"default_groups":            m.DefaultGroups,
			"email_attribute":           m.EmailAttribute,
			"first_name_attribute":      m.FirstNameAttribute,
			"last_name_attribute":       m.LastNameAttribute,
			"updated_at":                m.UpdatedAt,
		})
		if res.Error != nil {
			return mapErr(res.Error)
		}
		if res.RowsAffected == 0 {
			return realm.ErrNotFound
		}
		return nil
	})
}

// DeleteIdentityProvider removes the realm's provider by alias; its links
// and states go with it (foreign keys cascade), its users stay.
func (s *Store) DeleteIdentityProvider(ctx context.Context, realmID, alias string) error {
	res := s.q(ctx).Where("realm_id = ? AND alias = ?", realmID, alias).Delete(&identityProviderModel{})
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return realm.ErrNotFound
	}
	return nil
}

// IdentityProvidersUsingGroup lists the aliases of the realm's providers
// whose mappings or default groups name groupID, sorted. The lists are
// JSON text, so a textual prefilter narrows the rows and Go decides
// exactly (as CountGroupsUsingAttribute does); it runs when a group is
// deleted, not on a hot path.
func (s *Store) IdentityProvidersUsingGroup(ctx context.Context, realmID, groupID string) ([]string, error) {
	key, err := encodeJSON(groupID, `""`)
	if err != nil {
		return nil, err
	}
	pat := "%" + escapeLike(key) + "%"
	var rows []identityProviderModel
	err = s.q(ctx).Select("alias", "group_mappings", "default_groups").
		Where(`realm_id = ? AND (group_mappings LIKE ? ESCAPE '\' OR default_groups LIKE ? ESCAPE '\')`, realmID, pat, pat).
		Find(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	out := []string{}
	for _, m := range rows {
		var mappings []groupMappingJSON
		if err := decodeJSON(m.GroupMappings, &mappings); err != nil {
			return nil, fmt.Errorf("storage/sql: decode group mappings of identity provider %s: %w", m.Alias, err)
		}
		var defaults []string
		if err := decodeJSON(m.DefaultGroups, &defaults); err != nil {
			return nil, fmt.Errorf("storage/sql: decode default groups of identity provider %s: %w", m.Alias, err)
		}
		if slices.Contains(defaults, groupID) ||
			slices.ContainsFunc(mappings, func(gm groupMappingJSON) bool { return gm.Group == groupID }) {
			out = append(out, m.Alias)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CreateUserIdentity links a user to a provider's subject. A subject or a
// user already linked at the provider is a conflict (on subject, on
// user_id); a provider or user that is not the realm's is ErrNotFound.
func (s *Store) CreateUserIdentity(ctx context.Context, l *realm.UserIdentity) error {
	m := userIdentityModel{RealmID: l.RealmID, ProviderID: l.ProviderID, Subject: l.Subject, UserID: l.UserID,
		CreatedAt: dbTime(l.CreatedAt)}
	// A link both of whose keys are taken is a conflict on the subject on
	// either backend: the subject's key is the conflict target, which both
	// check first; the user's key then fails as a unique violation.
	res := s.q(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "realm_id"}, {Name: "provider_id"}, {Name: "subject"}},
		DoNothing: true,
	}).Create(&m)
	if foreignKeyViolation(res.Error) {
		return realm.ErrNotFound
	}
	if res.Error != nil {
		return mapErr(res.Error)
	}
	if res.RowsAffected == 0 {
		return subjectLinked
	}
	return nil
}

// subjectLinked is the conflict of a subject already linked at the
// provider (the key user_identities_pkey, reported by mapErr the same way).
var subjectLinked = realm.Conflict("subject", "this subject is already linked to a user at the identity provider")

// GetUserIdentity finds the link of the provider's subject in the realm
// (ProviderAlias is left empty).
func (s *Store) GetUserIdentity(ctx context.Context, realmID, providerID, subject string) (*realm.UserIdentity, error) {
	var m userIdentityModel
	if err := s.q(ctx).Where("realm_id = ? AND provider_id = ? AND subject = ?", realmID, providerID, subject).
		Take(&m).Error; err != nil {
		return nil, mapErr(err)
	}
	return &realm.UserIdentity{RealmID: m.RealmID, ProviderID: m.ProviderID, Subject: m.Subject, UserID: m.UserID,
		CreatedAt: fromDBTime(m.CreatedAt)}, nil
}

// ListUserIdentities lists the user's links with their providers' aliases,
// by alias.
func (s *Store) ListUserIdentities(ctx context.Context, realmID, userID string) ([]realm.UserIdentity, error) {
	var rows []struct {
		RealmID    string
		ProviderID string
		Subject    string
		UserID     string
		CreatedAt  time.Time
		Alias      string
	}
	err := s.q(ctx).Table("user_identities ui").
		Select("ui.realm_id, ui.provider_id, ui.subject, ui.user_id, ui.created_at, p.alias").
		Joins("JOIN identity_providers p ON p.realm_id = ui.realm_id AND p.id = ui.provider_id").
		Where("ui.realm_id = ? AND ui.user_id = ?", realmID, userID).
		Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]realm.UserIdentity, len(rows))
	for i, r := range rows {
		out[i] = realm.UserIdentity{RealmID: r.RealmID, ProviderID: r.ProviderID, Subject: r.Subject, UserID: r.UserID,
			ProviderAlias: r.Alias, CreatedAt: fromDBTime(r.CreatedAt)}
	}
	slices.SortFunc(out, func(a, b realm.UserIdentity) int { return strings.Compare(a.ProviderAlias, b.ProviderAlias) })
	return out, nil
}

// CreateBrokerState records a sign-in in flight; a provider that is not
// the realm's is ErrNotFound.
func (s *Store) CreateBrokerState(ctx context.Context, st *realm.BrokerState) error {
	m := brokerStateModel{RealmID: st.RealmID, ID: st.ID, ProviderID: st.ProviderID, RequestID: st.RequestID,
		VerifierSealed: emptyNil(st.VerifierSealed), ContinueParams: st.Continue,
		ExpiresAt: dbTime(st.ExpiresAt), CreatedAt: dbTime(st.CreatedAt)}
	err := s.q(ctx).Create(&m).Error
	if foreignKeyViolation(err) {
		return realm.ErrNotFound
	}
	return mapErr(err)
}

// takeBrokerStateSQL deletes the state and returns it in one statement:
// of concurrent takers only one deletes the row (on PostgreSQL the others
// wait for its lock and then find it gone; SQLite runs one writer at a
// time), and only that one gets a row back.
const takeBrokerStateSQL = `DELETE FROM broker_states WHERE realm_id = ? AND id = ? AND expires_at > ?
RETURNING realm_id, id, provider_id, request_id, verifier_sealed, continue_params, expires_at, created_at`

// TakeBrokerState removes and returns the realm's state with this ID when
// it expires after now; otherwise ErrNotFound (an expired state is left
// for DeleteExpiredBrokerStates).
func (s *Store) TakeBrokerState(ctx context.Context, realmID string, id []byte, now time.Time) (*realm.BrokerState, error) {
	var rows []brokerStateModel
	if err := s.q(ctx).Raw(takeBrokerStateSQL, realmID, id, dbTime(now)).Scan(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	if len(rows) == 0 {
		return nil, realm.ErrNotFound
	}
	m := rows[0]
	return &realm.BrokerState{ID: emptyNil(m.ID), RealmID: m.RealmID, ProviderID: m.ProviderID, RequestID: m.RequestID,
		VerifierSealed: emptyNil(m.VerifierSealed), Continue: m.ContinueParams,
		ExpiresAt: fromDBTime(m.ExpiresAt), CreatedAt: fromDBTime(m.CreatedAt)}, nil
}

// DeleteExpiredBrokerStates removes states that expired before now.
func (s *Store) DeleteExpiredBrokerStates(ctx context.Context, now time.Time) (int64, error) {
	res := s.q(ctx).Where("expires_at < ?", dbTime(now)).Delete(&brokerStateModel{})
	return res.RowsAffected, mapErr(res.Error)
}
