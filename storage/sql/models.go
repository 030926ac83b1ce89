package sql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// The gorm models mirror migrations/ exactly. Timestamps are written by the
// realm services (their clock), so gorm's automatic times are off.

type orgModel struct {
	ID        string `gorm:"primaryKey"`
	Slug      string
	Name      string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (orgModel) TableName() string { return "orgs" }

type memberModel struct {
	ID        string `gorm:"primaryKey"`
	OrgID     string
	UserID    string
	Role      string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (memberModel) TableName() string { return "members" }

type realmModel struct {
	ID          string `gorm:"primaryKey"`
	OrgID       *string
	Name        string
	DisplayName string
	IPAllowList string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
	// Migration 0016.
	PasswordLoginDisabled bool
	// Migration 0018: realm.RealmSettings as JSON.
	Settings string
}

func (realmModel) TableName() string { return "realms" }

type attributeModel struct {
	ID          string `gorm:"primaryKey"`
	RealmID     string
	Name        string
	Type        string
	Multi       bool
	Description string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

func (attributeModel) TableName() string { return "attributes" }

type groupModel struct {
	ID          string `gorm:"primaryKey"`
	RealmID     string
	Name        string
	NameLower   string
	Description string
	Attributes  string
	IPAllowList string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
	// Migration 0016.
	IDPPrimaryPriority int `gorm:"column:idp_primary_priority"`
}

func (groupModel) TableName() string { return "groups" }

type userModel struct {
	ID           string `gorm:"primaryKey"`
	RealmID      string
	Email        string
	EmailLower   string
	FirstName    string
	LastName     string
	Active       bool
	PrimaryGroup string
	PasswordHash string
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
	// TokensValidAfter: migration 0011.
	TokensValidAfter *time.Time
}

func (userModel) TableName() string { return "users" }

type userGroupModel struct {
	RealmID string
	UserID  string `gorm:"primaryKey"`
	GroupID string `gorm:"primaryKey"`
}

func (userGroupModel) TableName() string { return "user_groups" }

type clientModel struct {
	ID                      string `gorm:"primaryKey"`
	RealmID                 string
	ClientID                string
	Name                    string
	Description             string
	Kind                    string
	Active                  bool
	Public                  bool
	Audience                string
	PrimaryGroup            string
	RedirectURIs            string `gorm:"column:redirect_uris"`
	WebOrigins              string
	Communication           string
	DisplayName             string
	OrgID                   *string
	OrgRole                 string
	SecretHash              []byte
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt *time.Time
	CreatedAt               time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt               time.Time `gorm:"autoUpdateTime:false"`
	AllowOfflineAccess      bool
	IDTokenAlg              string
	// Migration 0011.
	TokensValidAfter *time.Time
	DefaultScopes    string
	OptionalScopes   string
}

func (clientModel) TableName() string { return "clients" }

type clientGroupModel struct {
	RealmID  string
	ClientPK string `gorm:"column:client_pk;primaryKey"`
	GroupID  string `gorm:"primaryKey"`
}

func (clientGroupModel) TableName() string { return "client_groups" }

type signingKeyModel struct {
	ID               string `gorm:"primaryKey"`
	RealmID          string
	Algorithm        string
	EncryptedPrivate []byte
	PublicJWK        []byte `gorm:"column:public_jwk"`
	Active           bool
	CreatedAt        time.Time `gorm:"autoCreateTime:false"`
	RetiredAt        *time.Time
}

func (signingKeyModel) TableName() string { return "signing_keys" }

type eventModel struct {
	ID         string `gorm:"primaryKey"`
	OrgID      string
	RealmID    string
	Type       string
	ActorType  string
	ActorID    string
	TargetType string
	TargetID   string
	Details    string
	Time       time.Time
}

func (eventModel) TableName() string { return "events" }

type revokedTokenModel struct {
	RealmID   string `gorm:"primaryKey"`
	JTI       string `gorm:"column:jti;primaryKey"`
	ExpiresAt time.Time
}

func (revokedTokenModel) TableName() string { return "revoked_tokens" }

type setupTokenModel struct {
	Hash      []byte `gorm:"primaryKey"`
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (setupTokenModel) TableName() string { return "setup_tokens" }

type actionTokenModel struct {
	Hash      []byte `gorm:"primaryKey"`
	RealmID   string
	UserID    string
	Purpose   string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (actionTokenModel) TableName() string { return "action_tokens" }

// Conversions. to* builds a model from a domain value, from* the reverse.

func toOrg(o *realm.Org) orgModel {
	return orgModel{ID: o.ID, Slug: o.Slug, Name: o.Name, CreatedAt: dbTime(o.CreatedAt)}
}

func fromOrg(m orgModel) realm.Org {
	return realm.Org{ID: m.ID, Slug: m.Slug, Name: m.Name, CreatedAt: fromDBTime(m.CreatedAt)}
}

func toMember(m *realm.Member) memberModel {
	return memberModel{ID: m.ID, OrgID: m.OrgID, UserID: m.UserID, Role: string(m.Role),
		CreatedAt: dbTime(m.CreatedAt), UpdatedAt: dbTime(m.UpdatedAt)}
}

func fromMember(m memberModel) realm.Member {
	return realm.Member{ID: m.ID, OrgID: m.OrgID, UserID: m.UserID, Role: realm.Role(m.Role),
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}
}

func toRealm(r *realm.Realm) (realmModel, error) {
	list, err := encodeJSON(r.IPAllowList, "[]")
	if err != nil {
		return realmModel{}, fmt.Errorf("storage/sql: encode realm IP allow list: %w", err)
	}
	settings, err := encodeJSON(r.Settings, "{}")
	if err != nil {
		return realmModel{}, fmt.Errorf("storage/sql: encode realm settings: %w", err)
	}
	return realmModel{ID: r.ID, OrgID: nullString(r.OrgID), Name: r.Name, DisplayName: r.DisplayName,
		IPAllowList: list, PasswordLoginDisabled: r.PasswordLoginDisabled, Settings: settings,
		CreatedAt: dbTime(r.CreatedAt), UpdatedAt: dbTime(r.UpdatedAt)}, nil
}

func fromRealm(m realmModel) (realm.Realm, error) {
	list, err := decodeIPAllowList(m.IPAllowList)
	if err != nil {
		return realm.Realm{}, fmt.Errorf("storage/sql: decode IP allow list of realm %s: %w", m.ID, err)
	}
	var settings realm.RealmSettings
	if m.Settings != "" {
		if err := decodeJSON(m.Settings, &settings); err != nil {
			return realm.Realm{}, fmt.Errorf("storage/sql: decode settings of realm %s: %w", m.ID, err)
		}
	}
	return realm.Realm{ID: m.ID, OrgID: derefString(m.OrgID), Name: m.Name, DisplayName: m.DisplayName,
		IPAllowList: list, PasswordLoginDisabled: m.PasswordLoginDisabled, Settings: settings,
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}, nil
}

// decodeIPAllowList decodes a stored allow list: never nil, so that an
// empty list reads as [] everywhere.
func decodeIPAllowList(s string) ([]string, error) {
	var list []string
	if err := decodeJSON(s, &list); err != nil {
		return nil, err
	}
	if list == nil {
		list = []string{}
	}
	return list, nil
}

func toAttribute(a *realm.Attribute) attributeModel {
	return attributeModel{ID: a.ID, RealmID: a.RealmID, Name: a.Name, Type: string(a.Type), Multi: a.Multi,
		Description: a.Description, CreatedAt: dbTime(a.CreatedAt), UpdatedAt: dbTime(a.UpdatedAt)}
}

func fromAttribute(m attributeModel) realm.Attribute {
	return realm.Attribute{ID: m.ID, RealmID: m.RealmID, Name: m.Name, Type: attributes.Type(m.Type), Multi: m.Multi,
		Description: m.Description, CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}
}

func toGroup(g *realm.Group) (groupModel, error) {
	attrs, err := encodeJSON(g.Attributes, "{}")
	if err != nil {
		return groupModel{}, fmt.Errorf("storage/sql: encode group attributes: %w", err)
	}
	list, err := encodeJSON(g.IPAllowList, "[]")
	if err != nil {
		return groupModel{}, fmt.Errorf("storage/sql: encode group IP allow list: %w", err)
	}
	return groupModel{ID: g.ID, RealmID: g.RealmID, Name: g.Name, NameLower: strings.ToLower(g.Name),
		Description: g.Description, Attributes: attrs, IPAllowList: list, IDPPrimaryPriority: g.IDPPrimaryPriority,
		CreatedAt: dbTime(g.CreatedAt), UpdatedAt: dbTime(g.UpdatedAt)}, nil
}

func fromGroup(m groupModel) (realm.Group, error) {
	attrs := map[string]any{}
	if err := decodeJSON(m.Attributes, &attrs); err != nil {
		return realm.Group{}, fmt.Errorf("storage/sql: decode attributes of group %s: %w", m.ID, err)
	}
	list, err := decodeIPAllowList(m.IPAllowList)
	if err != nil {
		return realm.Group{}, fmt.Errorf("storage/sql: decode IP allow list of group %s: %w", m.ID, err)
	}
	return realm.Group{ID: m.ID, RealmID: m.RealmID, Name: m.Name, Description: m.Description,
		Attributes: attrs, IPAllowList: list, IDPPrimaryPriority: m.IDPPrimaryPriority,
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt)}, nil
}

func toUser(u *realm.User) userModel {
	return userModel{ID: u.ID, RealmID: u.RealmID, Email: u.Email, EmailLower: strings.ToLower(u.Email),
		FirstName: u.FirstName, LastName: u.LastName, Active: u.Active, PrimaryGroup: u.PrimaryGroup,
		PasswordHash: u.PasswordHash, CreatedAt: dbTime(u.CreatedAt), UpdatedAt: dbTime(u.UpdatedAt),
		TokensValidAfter: dbTimePtr(u.TokensValidAfter)}
}

func fromUser(m userModel, groups []string) realm.User {
	return realm.User{ID: m.ID, RealmID: m.RealmID, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName,
		Active: m.Active, Groups: groups, PrimaryGroup: m.PrimaryGroup, PasswordHash: m.PasswordHash,
		CreatedAt: fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt),
		TokensValidAfter: fromDBTimePtr(m.TokensValidAfter)}
}

func toClient(c *realm.Client) (clientModel, error) {
	aud, err1 := encodeJSON(c.Audience, "[]")
	redirects, err2 := encodeJSON(c.RedirectURIs, "[]")
	origins, err3 := encodeJSON(c.WebOrigins, "[]")
	defaults, err4 := encodeJSON(c.DefaultScopes, "[]")
	optional, err5 := encodeJSON(c.OptionalScopes, "[]")
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			return clientModel{}, fmt.Errorf("storage/sql: encode client: %w", err)
		}
	}
	return clientModel{ID: c.ID, RealmID: c.RealmID, ClientID: c.ClientID, Name: c.Name,
		Description: c.Description, Kind: string(c.Kind), Active: c.Active, Public: c.Public,
		Audience: aud, PrimaryGroup: c.PrimaryGroup, RedirectURIs: redirects, WebOrigins: origins,
		Communication: string(c.Communication), DisplayName: c.DisplayName,
		OrgID: nullString(c.OrgID), OrgRole: string(c.OrgRole),
		SecretHash: c.SecretHash, PreviousSecretHash: c.PreviousSecretHash,
		PreviousSecretExpiresAt: dbTimePtr(c.PreviousSecretExpiresAt),
		CreatedAt:               dbTime(c.CreatedAt), UpdatedAt: dbTime(c.UpdatedAt),
		AllowOfflineAccess: c.AllowOfflineAccess, IDTokenAlg: c.IDTokenAlg,
		TokensValidAfter: dbTimePtr(c.TokensValidAfter), DefaultScopes: defaults, OptionalScopes: optional}, nil
}

func fromClient(m clientModel, groups []string) (realm.Client, error) {
	c := realm.Client{ID: m.ID, RealmID: m.RealmID, ClientID: m.ClientID, Name: m.Name,
		Description: m.Description, Kind: realm.ClientKind(m.Kind), Active: m.Active, Public: m.Public,
		Groups: groups, PrimaryGroup: m.PrimaryGroup, Communication: realm.Communication(m.Communication),
		DisplayName: m.DisplayName, OrgID: derefString(m.OrgID), OrgRole: realm.Role(m.OrgRole),
		SecretHash: emptyNil(m.SecretHash), PreviousSecretHash: emptyNil(m.PreviousSecretHash),
		PreviousSecretExpiresAt: fromDBTimePtr(m.PreviousSecretExpiresAt),
		CreatedAt:               fromDBTime(m.CreatedAt), UpdatedAt: fromDBTime(m.UpdatedAt),
		AllowOfflineAccess: m.AllowOfflineAccess, IDTokenAlg: m.IDTokenAlg,
		TokensValidAfter: fromDBTimePtr(m.TokensValidAfter)}
	for _, f := range []struct {
		src string
		dst *[]string
	}{{m.Audience, &c.Audience}, {m.RedirectURIs, &c.RedirectURIs}, {m.WebOrigins, &c.WebOrigins},
		{m.DefaultScopes, &c.DefaultScopes}, {m.OptionalScopes, &c.OptionalScopes}} {
		if err := decodeJSON(f.src, f.dst); err != nil {
			return realm.Client{}, fmt.Errorf("storage/sql: decode client %s: %w", m.ID, err)
		}
		if len(*f.dst) == 0 {
			*f.dst = nil
		}
	}
	return c, nil
}

func toSigningKey(k *realm.SigningKey) signingKeyModel {
	return signingKeyModel{ID: k.ID, RealmID: k.RealmID, Algorithm: k.Algorithm,
		EncryptedPrivate: k.EncryptedPrivate, PublicJWK: k.PublicJWK, Active: k.Active,
		CreatedAt: dbTime(k.CreatedAt), RetiredAt: dbTimePtr(k.RetiredAt)}
}

func fromSigningKey(m signingKeyModel) realm.SigningKey {
	return realm.SigningKey{ID: m.ID, RealmID: m.RealmID, Algorithm: m.Algorithm,
		EncryptedPrivate: m.EncryptedPrivate, PublicJWK: m.PublicJWK, Active: m.Active,
		CreatedAt: fromDBTime(m.CreatedAt), RetiredAt: fromDBTimePtr(m.RetiredAt)}
}

func toEvent(e *realm.Event) (eventModel, error) {
	details, err := encodeJSON(e.Details, "{}")
	if err != nil {
		return eventModel{}, fmt.Errorf("storage/sql: encode event details: %w", err)
	}
	return eventModel{ID: e.ID, OrgID: e.OrgID, RealmID: e.RealmID, Type: string(e.Type), ActorType: e.ActorType,
		ActorID: e.ActorID, TargetType: e.TargetType, TargetID: e.TargetID, Details: details,
		Time: dbTime(e.Time)}, nil
}

func fromEvent(m eventModel) (realm.Event, error) {
	var details map[string]any
	if err := decodeJSON(m.Details, &details); err != nil {
		return realm.Event{}, fmt.Errorf("storage/sql: decode event %s: %w", m.ID, err)
	}
	if len(details) == 0 {
		details = nil
	}
	return realm.Event{ID: m.ID, OrgID: m.OrgID, RealmID: m.RealmID, Type: realm.EventType(m.Type), ActorType: m.ActorType,
		ActorID: m.ActorID, TargetType: m.TargetType, TargetID: m.TargetID, Details: details,
		Time: fromDBTime(m.Time)}, nil
}

func fromActionToken(m actionTokenModel) realm.ActionToken {
	return realm.ActionToken{Hash: m.Hash, RealmID: m.RealmID, UserID: m.UserID, Purpose: m.Purpose,
		ExpiresAt: fromDBTime(m.ExpiresAt), UsedAt: fromDBTimePtr(m.UsedAt), CreatedAt: fromDBTime(m.CreatedAt)}
}

// encodeJSON encodes v, writing empty (nil map or slice) as def.
func encodeJSON[T any](v T, def string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return def, nil
	}
	return string(b), nil
}

// decodeJSON decodes with UseNumber so numbers keep their exact text
// (json.Number), as the attributes package expects.
func decodeJSON(s string, dst any) error {
	if s == "" {
		return nil
	}
	// The token endpoint decodes a client's lists and its groups' values on
	// every grant; the common shapes skip the decoder's setup.
	switch d := dst.(type) {
	case *[]string:
		if s == "[]" {
			*d = []string{}
			return nil
		}
		if l, ok := plainStringList(s); ok {
			*d = l
			return nil
		}
		return json.Unmarshal([]byte(s), d) // strings: no numbers to keep exact
	case *map[string]any:
		if s == "{}" && *d != nil {
			return nil
		}
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(dst)
}

// plainStringList decodes s when it is a compact JSON list of strings of
// printable ASCII without escapes (what encodeJSON writes for audiences and
// URLs): such strings decode to their bytes as they are. Anything else is
// not ok and left to encoding/json.
func plainStringList(s string) ([]string, bool) {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	n := strings.Count(s, `","`) + 1
	out := make([]string, 0, n)
	rest := s[1 : len(s)-1]
	for {
		if len(rest) < 2 || rest[0] != '"' {
			return nil, false
		}
		end := 1
		for ; end < len(rest) && rest[end] != '"'; end++ {
			if c := rest[end]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		if end == len(rest) {
			return nil, false
		}
		out = append(out, rest[1:end])
		rest = rest[end+1:]
		if rest == "" {
			return out, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = rest[1:]
	}
}

func emptyNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
