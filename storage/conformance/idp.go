package conformance

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardiam/ward/realm"
)

// runIdentityProviders runs the cases of realm.IdentityProviderStore
// (CONTRACT §9).
func runIdentityProviders(t *testing.T, newStore func(t *testing.T) realm.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"IdentityProviders", testIdentityProviders},
		{"IdentityProviderUpdate", testIdentityProviderUpdate},
		{"IdentityProviderDelete", testIdentityProviderDelete},
		{"IdentityProvidersUsingGroup", testIdentityProvidersUsingGroup},
		{"UserIdentities", testUserIdentities},
		{"BrokerStates", testBrokerStates},
		{"BrokerStateTakenOnce", testBrokerStateTakenOnce},
		{"DeleteRealmRemovesIdentityProviders", testDeleteRealmIdentityProviders},
	}
	for _, tc := range tests {
		runCase(t, tc.name, newStore, func(t *testing.T, f *fixture, _ realm.Store) { tc.fn(t, f) })
	}
}

// samlIdP returns a SAML provider of the realm with every field set (not
// stored).
func (f *fixture) samlIdP(realmID, alias string) *realm.IdentityProvider {
	return &realm.IdentityProvider{ID: f.id(), RealmID: realmID, Alias: alias, Kind: realm.IdPSAML,
		DisplayName: "SAML " + alias, Enabled: true,
		SAML: &realm.SAMLSettings{MetadataURL: "https://idp.example/" + alias + "/metadata",
			MetadataXML:   `<EntityDescriptor entityID="https://idp.example/` + alias + `"/>`,
			SPKeySealed:   []byte("sealed-key-" + alias + "\x00\xff"),
			SPCertificate: []byte("\x30\x82cert-" + alias)},
		JIT: true, LinkByEmail: false, GroupClaim: "memberOf",
		GroupMappings: []realm.GroupMapping{}, DefaultGroups: []string{},
		Attributes: realm.IdPAttributeNames{Email: "mail", FirstName: "givenName", LastName: "sn"},
		CreatedAt:  f.clock, UpdatedAt: f.clock}
}

// oidcIdP returns an OIDC provider of the realm with every field set (not
// stored).
func (f *fixture) oidcIdP(realmID, alias string) *realm.IdentityProvider {
	return &realm.IdentityProvider{ID: f.id(), RealmID: realmID, Alias: alias, Kind: realm.IdPOIDC,
		DisplayName: "OIDC " + alias, Enabled: false, DisabledReason: "discovery document: 404",
		OIDC: &realm.OIDCSettings{Issuer: "https://login.example/" + alias, ClientID: "ward-" + alias,
			ClientSecretSealed: []byte("sealed-secret\x00\x01"), Scopes: []string{"openid", "profile", "email", "groups"}},
		JIT: false, LinkByEmail: true, GroupClaim: "groups",
		GroupMappings: []realm.GroupMapping{}, DefaultGroups: []string{},
		Attributes: realm.IdPAttributeNames{Email: "upn", FirstName: "first", LastName: "last"},
		CreatedAt:  f.clock, UpdatedAt: f.clock}
}

func (f *fixture) createIdP(p *realm.IdentityProvider) *realm.IdentityProvider {
	f.t.Helper()
	must(f.t, f.s.CreateIdentityProvider(f.ctx, p))
	return p
}

func idpAlias(p realm.IdentityProvider) string { return p.Alias }

// brokerState returns a state of the provider expiring after ttl (not
// stored); token names it.
func (f *fixture) brokerState(p *realm.IdentityProvider, token string, ttl time.Duration) *realm.BrokerState {
	h := sha256.Sum256([]byte(token))
	st := &realm.BrokerState{ID: h[:], RealmID: p.RealmID, ProviderID: p.ID, RequestID: "req-" + token,
		Continue:  "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=" + token,
		CreatedAt: f.clock, ExpiresAt: f.clock.Add(ttl)}
	if p.Kind == realm.IdPOIDC {
		st.VerifierSealed = []byte("sealed-verifier-" + token)
	}
	return st
}

// testIdentityProviders: both kinds round-trip every field through every
// read (the other kind's settings nil, empty lists empty and not nil, an
// absent client secret nil); lists are by alias in byte order; mappings
// and default groups come back in their documented order; aliases are
// unique per realm; another realm's provider is not found.
func testIdentityProviders(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1, g2 := f.group(r.ID, "Finance", nil), f.group(r.ID, "Staff", nil)

	empty, err := f.s.ListIdentityProviders(f.ctx, r.ID)
	must(t, err)
	if empty == nil || len(empty) != 0 {
		t.Errorf("ListIdentityProviders of a realm with none = %#v, want an empty list", empty)
	}

	saml := f.samlIdP(r.ID, "corp")
	saml.GroupMappings = []realm.GroupMapping{{External: "Accounting", Group: g1.ID}, {External: "Finance", Group: g1.ID},
		{External: "Finance", Group: g2.ID}}
	saml.DefaultGroups = []string{g1.ID, g2.ID}
	f.createIdP(saml)
	oidc := f.createIdP(f.oidcIdP(r.ID, "azure"))

	for _, p := range []*realm.IdentityProvider{saml, oidc} {
		got, err := f.s.GetIdentityProvider(f.ctx, r.ID, p.Alias)
		must(t, err)
		same(t, "GetIdentityProvider "+p.Alias, got, p)
		got, err = f.s.GetIdentityProviderByID(f.ctx, r.ID, p.ID)
		must(t, err)
		same(t, "GetIdentityProviderByID "+p.Alias, got, p)
	}
	got, err := f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	must(t, err)
	if got.OIDC != nil || got.SAML == nil {
		t.Errorf("SAML provider: SAML %v, OIDC %v; want only SAML", got.SAML, got.OIDC)
	}
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "azure")
	must(t, err)
	if got.SAML != nil || got.OIDC == nil {
		t.Errorf("OIDC provider: SAML %v, OIDC %v; want only OIDC", got.SAML, got.OIDC)
	}
	if got.GroupMappings == nil || got.DefaultGroups == nil || len(got.GroupMappings)+len(got.DefaultGroups) != 0 {
		t.Errorf("empty group lists read back as %#v, %#v; want empty lists", got.GroupMappings, got.DefaultGroups)
	}

	// A public OIDC client (no secret), no scopes, SAML settings set by
	// mistake on an OIDC provider: the secret reads nil, the scopes
	// empty, the SAML settings are not kept.
	public := f.oidcIdP(r.ID, "google")
	public.OIDC.ClientSecretSealed, public.OIDC.Scopes = nil, nil
	public.SAML = &realm.SAMLSettings{MetadataXML: "<x/>"}
	f.createIdP(public)
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "google")
	must(t, err)
	want := *public
	want.SAML, want.OIDC = nil, &realm.OIDCSettings{Issuer: public.OIDC.Issuer, ClientID: public.OIDC.ClientID, Scopes: []string{}}
	same(t, "public OIDC provider", got, want)
	if got.OIDC.ClientSecretSealed != nil || got.OIDC.Scopes == nil {
		t.Errorf("public client: secret %#v, scopes %#v; want nil and an empty list", got.OIDC.ClientSecretSealed, got.OIDC.Scopes)
	}

	// Mappings and default groups given out of order come back sorted
	// (mappings by External, then Group).
	messy := f.samlIdP(r.ID, "messy")
	messy.GroupMappings = []realm.GroupMapping{{External: "b", Group: g2.ID}, {External: "a", Group: g2.ID},
		{External: "b", Group: g1.ID}, {External: "B", Group: g1.ID}}
	messy.DefaultGroups = []string{g2.ID, g1.ID}
	f.createIdP(messy)
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "messy")
	must(t, err)
	same(t, "sorted mappings", got.GroupMappings, []realm.GroupMapping{{External: "B", Group: g1.ID},
		{External: "a", Group: g2.ID}, {External: "b", Group: g1.ID}, {External: "b", Group: g2.ID}})
	same(t, "sorted default groups", got.DefaultGroups, []string{g1.ID, g2.ID})

	// Listed by alias, byte order ('-' < '_' < letters).
	f.createIdP(f.oidcIdP(r.ID, "a_b"))
	f.createIdP(f.oidcIdP(r.ID, "a-b"))
	list, err := f.s.ListIdentityProviders(f.ctx, r.ID)
	must(t, err)
	same(t, "ListIdentityProviders order", ids(list, idpAlias), []string{"a-b", "a_b", "azure", "corp", "google", "messy"})
	for _, p := range list {
		switch p.Alias {
		case "corp":
			same(t, "listed corp", p, saml)
		case "azure":
			same(t, "listed azure", p, oidc)
		}
	}

	// The login page's choices: the enabled ones, by alias, with their
	// display names; switching one off takes it out.
	ab, err := f.s.GetIdentityProvider(f.ctx, r.ID, "a_b")
	must(t, err)
	ab.Enabled = false
	must(t, f.s.UpdateIdentityProvider(f.ctx, ab))
	var wantChoices []realm.IdentityProviderChoice
	for _, p := range list {
		if p.Enabled && p.Alias != "a_b" {
			wantChoices = append(wantChoices, realm.IdentityProviderChoice{Alias: p.Alias, DisplayName: p.DisplayName})
		}
	}
	if len(wantChoices) < 2 {
		t.Fatalf("the fixture has %d enabled providers; the choices check needs two", len(wantChoices))
	}
	choices, err := f.s.ListIdentityProviderChoices(f.ctx, r.ID)
	must(t, err)
	same(t, "ListIdentityProviderChoices", choices, wantChoices)

	// An alias is unique in its realm: a second "corp" is a conflict on
	// alias and stores nothing; another realm may have its own "corp".
	dup := f.oidcIdP(r.ID, "corp")
	wantConflict(t, "CreateIdentityProvider duplicate alias", "alias", f.s.CreateIdentityProvider(f.ctx, dup))
	_, err = f.s.GetIdentityProviderByID(f.ctx, r.ID, dup.ID)
	wantNotFound(t, "the refused duplicate", err)
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	must(t, err)
	same(t, "corp after a refused duplicate", got, saml)
	theirs := f.createIdP(f.oidcIdP(other.ID, "corp"))

	// An unknown realm: ErrNotFound.
	wantNotFound(t, "CreateIdentityProvider in an unknown realm",
		f.s.CreateIdentityProvider(f.ctx, f.samlIdP(f.id(), "corp")))

	// Realm isolation: each realm reads its own only.
	_, err = f.s.GetIdentityProvider(f.ctx, r.ID, "nope")
	wantNotFound(t, "GetIdentityProvider missing", err)
	_, err = f.s.GetIdentityProviderByID(f.ctx, other.ID, saml.ID)
	wantNotFound(t, "GetIdentityProviderByID of another realm's provider", err)
	_, err = f.s.GetIdentityProvider(f.ctx, other.ID, "azure")
	wantNotFound(t, "GetIdentityProvider of an alias only another realm has", err)
	got, err = f.s.GetIdentityProvider(f.ctx, other.ID, "corp")
	must(t, err)
	same(t, "the other realm's corp", got, theirs)
	list, err = f.s.ListIdentityProviders(f.ctx, other.ID)
	must(t, err)
	same(t, "ListIdentityProviders of the other realm", ids(list, idpAlias), []string{"corp"})
}

// testIdentityProviderUpdate: an update saves every other field (both
// kinds) and leaves ID, alias, kind and creation time, whatever p says;
// the settings kept are those of the stored kind; an unknown provider, or
// another realm's, is ErrNotFound and unchanged.
func testIdentityProviderUpdate(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1, g2 := f.group(r.ID, "Finance", nil), f.group(r.ID, "Staff", nil)
	saml := f.createIdP(f.samlIdP(r.ID, "corp"))
	oidc := f.createIdP(f.oidcIdP(r.ID, "azure"))
	created := saml.CreatedAt

	// Every saved field changes, and the fields that are not saved are
	// given other values.
	upd := *saml
	upd.Alias, upd.Kind, upd.CreatedAt = "renamed", realm.IdPSAML, created.Add(-time.Hour)
	upd.DisplayName, upd.Enabled, upd.DisabledReason = "Acme SSO", false, "metadata: certificate expired"
	upd.SAML = &realm.SAMLSettings{MetadataURL: "", MetadataXML: "<EntityDescriptor entityID=\"pasted\"/>",
		SPKeySealed: []byte("new-key"), SPCertificate: []byte("new-cert")}
	upd.JIT, upd.LinkByEmail, upd.GroupClaim = false, true, "groups"
	upd.GroupMappings = []realm.GroupMapping{{External: "Finance", Group: g1.ID}, {External: "Staff", Group: g2.ID}}
	upd.DefaultGroups = []string{g2.ID}
	upd.Attributes = realm.IdPAttributeNames{Email: "email", FirstName: "", LastName: "surname"}
	upd.UpdatedAt = f.tick()
	must(t, f.s.UpdateIdentityProvider(f.ctx, &upd))
	want := upd
	want.Alias, want.CreatedAt = "corp", created
	got, err := f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	must(t, err)
	same(t, "SAML provider after update", got, want)
	_, err = f.s.GetIdentityProvider(f.ctx, r.ID, "renamed")
	wantNotFound(t, "the alias an update asked for", err)

	// An OIDC provider: its settings change (the secret removed: a public
	// client now); a Kind of saml in p changes neither the kind nor which
	// settings are kept.
	upd = *oidc
	upd.Kind = realm.IdPSAML
	upd.SAML = &realm.SAMLSettings{MetadataXML: "<x/>"}
	upd.OIDC = &realm.OIDCSettings{Issuer: "https://login.example/v2", ClientID: "ward-2", Scopes: []string{"openid"}}
	upd.Enabled, upd.DisabledReason, upd.UpdatedAt = true, "", f.tick()
	upd.DefaultGroups = []string{g1.ID}
	must(t, f.s.UpdateIdentityProvider(f.ctx, &upd))
	want = upd
	want.Kind, want.SAML = realm.IdPOIDC, nil
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "azure")
	must(t, err)
	same(t, "OIDC provider after update", got, want)
	if got.OIDC.ClientSecretSealed != nil {
		t.Errorf("removed client secret reads %#v, want nil", got.OIDC.ClientSecretSealed)
	}

	// Missing, or another realm's: ErrNotFound, nothing changed.
	before, err := f.s.GetIdentityProvider(f.ctx, r.ID, "azure")
	must(t, err)
	missing := *before
	missing.ID = f.id()
	wantNotFound(t, "UpdateIdentityProvider missing", f.s.UpdateIdentityProvider(f.ctx, &missing))
	foreign := *before
	foreign.RealmID, foreign.DisplayName, foreign.UpdatedAt = other.ID, "hijacked", f.tick()
	wantNotFound(t, "UpdateIdentityProvider through another realm", f.s.UpdateIdentityProvider(f.ctx, &foreign))
	got, err = f.s.GetIdentityProvider(f.ctx, r.ID, "azure")
	must(t, err)
	same(t, "azure after refused updates", got, before)
}

// testIdentityProviderDelete: deleting a provider removes its links and
// its states, not its users nor another provider's links and states;
// another realm cannot delete it.
func testIdentityProviderDelete(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g := f.group(r.ID, "Staff", nil)
	u, v := f.user(r.ID, "u@example.com", g.ID), f.user(r.ID, "v@example.com")
	doomed := f.createIdP(f.samlIdP(r.ID, "corp"))
	keep := f.createIdP(f.oidcIdP(r.ID, "azure"))
	link := func(p *realm.IdentityProvider, subject, userID string) *realm.UserIdentity {
		l := &realm.UserIdentity{RealmID: r.ID, ProviderID: p.ID, Subject: subject, UserID: userID, CreatedAt: f.tick()}
		must(t, f.s.CreateUserIdentity(f.ctx, l))
		return l
	}
	link(doomed, "u-at-corp", u.ID)
	link(doomed, "v-at-corp", v.ID)
	uAzure := link(keep, "u-at-azure", u.ID)
	uAzure.ProviderAlias = "azure"
	doomedState := f.brokerState(doomed, "s1", time.Hour)
	keepState := f.brokerState(keep, "s2", time.Hour)
	must(t, f.s.CreateBrokerState(f.ctx, doomedState))
	must(t, f.s.CreateBrokerState(f.ctx, keepState))

	wantNotFound(t, "DeleteIdentityProvider through another realm", f.s.DeleteIdentityProvider(f.ctx, other.ID, "corp"))
	if _, err := f.s.GetIdentityProvider(f.ctx, r.ID, "corp"); err != nil {
		t.Fatalf("corp after another realm's delete: %v", err)
	}

	must(t, f.s.DeleteIdentityProvider(f.ctx, r.ID, "corp"))
	_, err := f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	wantNotFound(t, "GetIdentityProvider after delete", err)
	_, err = f.s.GetIdentityProviderByID(f.ctx, r.ID, doomed.ID)
	wantNotFound(t, "GetIdentityProviderByID after delete", err)
	wantNotFound(t, "DeleteIdentityProvider twice", f.s.DeleteIdentityProvider(f.ctx, r.ID, "corp"))
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, doomed.ID, "u-at-corp")
	wantNotFound(t, "link of a deleted provider", err)
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, doomedState.ID, f.clock)
	wantNotFound(t, "state of a deleted provider", err)

	// The users stay, with their groups, and with their other links.
	for _, want := range []*realm.User{u, v} {
		got, err := f.s.GetUser(f.ctx, r.ID, want.ID)
		must(t, err)
		same(t, "user after its provider's deletion", got, want)
	}
	links, err := f.s.ListUserIdentities(f.ctx, r.ID, u.ID)
	must(t, err)
	same(t, "u's links after corp's deletion", links, []realm.UserIdentity{*uAzure})
	links, err = f.s.ListUserIdentities(f.ctx, r.ID, v.ID)
	must(t, err)
	if links == nil || len(links) != 0 {
		t.Errorf("v's links after corp's deletion = %#v, want an empty list", links)
	}
	got, err := f.s.TakeBrokerState(f.ctx, r.ID, keepState.ID, f.clock)
	must(t, err)
	same(t, "the other provider's state", got, keepState)

	// The alias is free again; the new provider has no links.
	again := f.createIdP(f.samlIdP(r.ID, "corp"))
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, again.ID, "u-at-corp")
	wantNotFound(t, "link at the new corp", err)
}

// testIdentityProvidersUsingGroup: the aliases of the realm's providers
// naming the group in a mapping or among default groups, sorted; a group
// ID appearing only as an external name is not a use; another realm's
// providers are not listed.
func testIdentityProvidersUsingGroup(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	g1, g2, g3 := f.group(r.ID, "Finance", nil), f.group(r.ID, "Staff", nil), f.group(r.ID, "Unused", nil)

	zeta := f.samlIdP(r.ID, "zeta")
	zeta.GroupMappings = []realm.GroupMapping{{External: "Finance", Group: g1.ID}}
	f.createIdP(zeta)
	alpha := f.oidcIdP(r.ID, "alpha")
	alpha.DefaultGroups = []string{g2.ID, g1.ID}
	f.createIdP(alpha)
	mid := f.samlIdP(r.ID, "mid")
	// g3's ID is only an external group's name here.
	mid.GroupMappings = []realm.GroupMapping{{External: g3.ID, Group: g2.ID}, {External: "Staff", Group: g2.ID}}
	f.createIdP(mid)
	f.createIdP(f.oidcIdP(r.ID, "none"))
	// Another realm's provider naming g1 (the store does not check group
	// IDs against the realm; the service does).
	theirs := f.samlIdP(other.ID, "theirs")
	theirs.GroupMappings = []realm.GroupMapping{{External: "x", Group: g1.ID}}
	theirs.DefaultGroups = []string{g3.ID}
	f.createIdP(theirs)

	for _, tc := range []struct {
		realmID, group string
		want           []string
	}{
		{r.ID, g1.ID, []string{"alpha", "zeta"}},
		{r.ID, g2.ID, []string{"alpha", "mid"}},
		{r.ID, g3.ID, []string{}},
		{r.ID, f.id(), []string{}},
		{other.ID, g1.ID, []string{"theirs"}},
		{other.ID, g2.ID, []string{}},
	} {
		got, err := f.s.IdentityProvidersUsingGroup(f.ctx, tc.realmID, tc.group)
		must(t, err)
		if got == nil {
			t.Errorf("IdentityProvidersUsingGroup(%s) = nil, want an empty list", tc.group)
		}
		same(t, "IdentityProvidersUsingGroup", got, tc.want)
	}

	// After an update drops the mapping, zeta no longer uses g1.
	zeta.GroupMappings, zeta.UpdatedAt = []realm.GroupMapping{}, f.tick()
	must(t, f.s.UpdateIdentityProvider(f.ctx, zeta))
	got, err := f.s.IdentityProvidersUsingGroup(f.ctx, r.ID, g1.ID)
	must(t, err)
	same(t, "IdentityProvidersUsingGroup after an update", got, []string{"alpha"})
}

// testUserIdentities: links round-trip; a subject, and a user, is linked
// at most once per provider (but may be at several providers); links need
// a provider and a user of their realm; reads are realm-isolated; a user's
// links list by alias with the alias filled.
func testUserIdentities(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	u, v := f.user(r.ID, "u@example.com"), f.user(r.ID, "v@example.com")
	stranger := f.user(other.ID, "s@example.com")
	corp := f.createIdP(f.samlIdP(r.ID, "corp"))
	azure := f.createIdP(f.oidcIdP(r.ID, "azure"))
	theirs := f.createIdP(f.samlIdP(other.ID, "corp"))

	empty, err := f.s.ListUserIdentities(f.ctx, r.ID, u.ID)
	must(t, err)
	if empty == nil || len(empty) != 0 {
		t.Errorf("ListUserIdentities of a user with none = %#v, want an empty list", empty)
	}

	uCorp := &realm.UserIdentity{RealmID: r.ID, ProviderID: corp.ID, Subject: "CN=U,O=Acme", UserID: u.ID, CreatedAt: f.tick()}
	uAzure := &realm.UserIdentity{RealmID: r.ID, ProviderID: azure.ID, Subject: "00u-1", UserID: u.ID, CreatedAt: f.tick()}
	// The same subject at another provider is another person's account.
	vAzure := &realm.UserIdentity{RealmID: r.ID, ProviderID: azure.ID, Subject: "CN=U,O=Acme", UserID: v.ID, CreatedAt: f.tick()}
	for _, l := range []*realm.UserIdentity{uCorp, uAzure, vAzure} {
		must(t, f.s.CreateUserIdentity(f.ctx, l))
		got, err := f.s.GetUserIdentity(f.ctx, r.ID, l.ProviderID, l.Subject)
		must(t, err)
		same(t, "GetUserIdentity", got, l)
	}

	// Subjects are case-sensitive: another case is another subject.
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, corp.ID, "cn=u,o=acme")
	wantNotFound(t, "GetUserIdentity in another case", err)

	// A subject already linked at the provider, to another user or the
	// same; a user already linked at the provider, under another subject.
	wantConflict(t, "CreateUserIdentity same subject, other user", "subject", f.s.CreateUserIdentity(f.ctx,
		&realm.UserIdentity{RealmID: r.ID, ProviderID: corp.ID, Subject: "CN=U,O=Acme", UserID: v.ID, CreatedAt: f.tick()}))
	wantConflict(t, "CreateUserIdentity same subject, same user", "subject", f.s.CreateUserIdentity(f.ctx,
		&realm.UserIdentity{RealmID: r.ID, ProviderID: corp.ID, Subject: "CN=U,O=Acme", UserID: u.ID, CreatedAt: f.tick()}))
	wantConflict(t, "CreateUserIdentity same user twice at a provider", "user_id", f.s.CreateUserIdentity(f.ctx,
		&realm.UserIdentity{RealmID: r.ID, ProviderID: corp.ID, Subject: "other-subject", UserID: u.ID, CreatedAt: f.tick()}))
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, corp.ID, "other-subject")
	wantNotFound(t, "the refused second link of u", err)
	got, err := f.s.GetUserIdentity(f.ctx, r.ID, corp.ID, "CN=U,O=Acme")
	must(t, err)
	same(t, "u's corp link after refused links", got, uCorp)

	// A provider or user that is not the realm's: ErrNotFound.
	for name, l := range map[string]*realm.UserIdentity{
		"unknown provider":         {RealmID: r.ID, ProviderID: f.id(), Subject: "x", UserID: v.ID},
		"another realm's provider": {RealmID: r.ID, ProviderID: theirs.ID, Subject: "x", UserID: v.ID},
		"unknown user":             {RealmID: r.ID, ProviderID: corp.ID, Subject: "x", UserID: f.id()},
		"another realm's user":     {RealmID: r.ID, ProviderID: corp.ID, Subject: "x", UserID: stranger.ID},
	} {
		l.CreatedAt = f.tick()
		wantNotFound(t, "CreateUserIdentity with "+name, f.s.CreateUserIdentity(f.ctx, l))
	}
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, corp.ID, "x")
	wantNotFound(t, "a refused link", err)

	// Realm isolation.
	_, err = f.s.GetUserIdentity(f.ctx, other.ID, corp.ID, "CN=U,O=Acme")
	wantNotFound(t, "GetUserIdentity through another realm", err)
	links, err := f.s.ListUserIdentities(f.ctx, other.ID, u.ID)
	must(t, err)
	if len(links) != 0 {
		t.Errorf("ListUserIdentities of u through another realm = %+v, want none", links)
	}

	// u's links by alias (azure before corp, though corp was linked
	// first), with the aliases.
	links, err = f.s.ListUserIdentities(f.ctx, r.ID, u.ID)
	must(t, err)
	wantAzure, wantCorp := *uAzure, *uCorp
	wantAzure.ProviderAlias, wantCorp.ProviderAlias = "azure", "corp"
	same(t, "ListUserIdentities(u)", links, []realm.UserIdentity{wantAzure, wantCorp})
	links, err = f.s.ListUserIdentities(f.ctx, r.ID, v.ID)
	must(t, err)
	wantV := *vAzure
	wantV.ProviderAlias = "azure"
	same(t, "ListUserIdentities(v)", links, []realm.UserIdentity{wantV})
}

// testBrokerStates: a state round-trips through its one take; it is taken
// only through its realm, only before it expires, only once (also inside
// a transaction that rolls back: then it is still there); the sweep
// removes exactly the states expired before now.
func testBrokerStates(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, other := f.realm(o.ID, "prod"), f.realm(o.ID, "dev")
	saml := f.createIdP(f.samlIdP(r.ID, "corp"))
	oidc := f.createIdP(f.oidcIdP(r.ID, "azure"))
	theirs := f.createIdP(f.oidcIdP(other.ID, "azure"))
	now := f.clock

	sst := f.brokerState(saml, "saml-state", realm.BrokerStateTTL)
	ost := f.brokerState(oidc, "oidc-state", realm.BrokerStateTTL)
	must(t, f.s.CreateBrokerState(f.ctx, sst))
	must(t, f.s.CreateBrokerState(f.ctx, ost))

	// Another realm cannot take it.
	_, err := f.s.TakeBrokerState(f.ctx, other.ID, ost.ID, now)
	wantNotFound(t, "TakeBrokerState through another realm", err)
	// An unknown ID.
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, bytes.Repeat([]byte{7}, 32), now)
	wantNotFound(t, "TakeBrokerState of an unknown state", err)

	// Taken inside a transaction that rolls back: still there.
	boom := errors.New("boom")
	err = f.s.InTx(f.ctx, func(tx realm.Store) error {
		got, err := tx.TakeBrokerState(f.ctx, r.ID, ost.ID, now)
		must(t, err)
		same(t, "TakeBrokerState in a transaction", got, ost)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}

	for _, st := range []*realm.BrokerState{ost, sst} {
		got, err := f.s.TakeBrokerState(f.ctx, r.ID, st.ID, now)
		must(t, err)
		same(t, "TakeBrokerState", got, st)
		_, err = f.s.TakeBrokerState(f.ctx, r.ID, st.ID, now)
		wantNotFound(t, "TakeBrokerState twice", err)
	}
	if sst.VerifierSealed != nil {
		t.Fatal("fixture: a SAML state with a verifier")
	}

	// Expiry: taken until just before ExpiresAt, not at it nor after.
	early := f.brokerState(oidc, "early", time.Minute)
	must(t, f.s.CreateBrokerState(f.ctx, early))
	got, err := f.s.TakeBrokerState(f.ctx, r.ID, early.ID, early.ExpiresAt.Add(-time.Microsecond))
	must(t, err)
	same(t, "TakeBrokerState just before expiry", got, early)
	late := f.brokerState(oidc, "late", time.Minute)
	must(t, f.s.CreateBrokerState(f.ctx, late))
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, late.ID, late.ExpiresAt)
	wantNotFound(t, "TakeBrokerState at expiry", err)
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, late.ID, late.ExpiresAt.Add(time.Hour))
	wantNotFound(t, "TakeBrokerState after expiry", err)

	// A state needs a provider of its realm; an ID is recorded once.
	wantNotFound(t, "CreateBrokerState of another realm's provider",
		f.s.CreateBrokerState(f.ctx, &realm.BrokerState{ID: []byte("x"), RealmID: r.ID, ProviderID: theirs.ID,
			RequestID: "r", Continue: "c", ExpiresAt: now.Add(time.Minute), CreatedAt: now}))
	dup := f.brokerState(saml, "late", time.Hour)
	wantConflict(t, "CreateBrokerState of an ID in flight", "state", f.s.CreateBrokerState(f.ctx, dup))
	// The same ID in another realm is another state.
	theirState := f.brokerState(theirs, "late", time.Hour)
	must(t, f.s.CreateBrokerState(f.ctx, theirState))

	// The sweep: late (expired at now+1m) is left before its expiry and
	// at it, removed after; theirState (now+1h) stays until it expires.
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{now, 0},
		{late.ExpiresAt, 0},
		{late.ExpiresAt.Add(time.Microsecond), 1},
		{late.ExpiresAt.Add(time.Second), 0},
	} {
		n, err := f.s.DeleteExpiredBrokerStates(f.ctx, tc.at)
		must(t, err)
		if n != tc.want {
			t.Errorf("DeleteExpiredBrokerStates(%v) = %d, want %d", tc.at, n, tc.want)
		}
	}
	// late is gone even for a taker whose clock is behind.
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, late.ID, now)
	wantNotFound(t, "TakeBrokerState of a swept state", err)
	got, err = f.s.TakeBrokerState(f.ctx, other.ID, theirState.ID, now)
	must(t, err)
	same(t, "the other realm's state with the same ID", got, theirState)

	// Several expired at once, of both realms.
	for i, p := range []*realm.IdentityProvider{saml, oidc, theirs} {
		must(t, f.s.CreateBrokerState(f.ctx, f.brokerState(p, "sweep-"+string(rune('a'+i)), time.Minute)))
	}
	must(t, f.s.CreateBrokerState(f.ctx, f.brokerState(oidc, "fresh", time.Hour)))
	n, err := f.s.DeleteExpiredBrokerStates(f.ctx, now.Add(2*time.Minute))
	must(t, err)
	if n != 3 {
		t.Errorf("DeleteExpiredBrokerStates of three expired = %d, want 3", n)
	}
	if _, err := f.s.TakeBrokerState(f.ctx, r.ID, f.brokerState(oidc, "fresh", 0).ID, now); err != nil {
		t.Errorf("the unexpired state after the sweep: %v", err)
	}
}

// testBrokerStateTakenOnce: of concurrent takers of one state exactly one
// gets it, every other ErrNotFound.
func testBrokerStateTakenOnce(t *testing.T, f *fixture) {
	o := f.org("acme")
	r := f.realm(o.ID, "prod")
	p := f.createIdP(f.oidcIdP(r.ID, "azure"))
	const takers = 8
	for round := range 5 {
		st := f.brokerState(p, "state-"+string(rune('a'+round)), time.Hour)
		must(t, f.s.CreateBrokerState(f.ctx, st))
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			won        []*realm.BrokerState
			notFound   int
			unexpected []error
			start      = make(chan struct{})
		)
		for range takers {
			wg.Go(func() {
				<-start
				got, err := f.s.TakeBrokerState(f.ctx, r.ID, st.ID, f.clock)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, got)
				case errors.Is(err, realm.ErrNotFound):
					notFound++
				default:
					unexpected = append(unexpected, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(won) != 1 || notFound != takers-1 || len(unexpected) > 0 {
			t.Fatalf("round %d: %d takers got the state, %d not found, errors %v; want 1 and %d",
				round, len(won), notFound, unexpected, takers-1)
		}
		same(t, "the state the winner took", won[0], st)
	}
}

// testDeleteRealmIdentityProviders: deleting a realm removes its
// providers, their links and their states; another realm's stay.
func testDeleteRealmIdentityProviders(t *testing.T, f *fixture) {
	o := f.org("acme")
	r, keep := f.realm(o.ID, "doomed"), f.realm(o.ID, "keep")
	var states []*realm.BrokerState
	for _, rm := range []*realm.Realm{r, keep} {
		u := f.user(rm.ID, "u@example.com")
		p := f.createIdP(f.samlIdP(rm.ID, "corp"))
		must(t, f.s.CreateUserIdentity(f.ctx, &realm.UserIdentity{RealmID: rm.ID, ProviderID: p.ID, Subject: "u",
			UserID: u.ID, CreatedAt: f.tick()}))
		st := f.brokerState(p, "state-"+rm.Name, time.Minute)
		must(t, f.s.CreateBrokerState(f.ctx, st))
		states = append(states, st)
	}
	doomed, err := f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	must(t, err)

	must(t, f.s.DeleteRealm(f.ctx, r.ID))
	_, err = f.s.GetIdentityProvider(f.ctx, r.ID, "corp")
	wantNotFound(t, "provider of a deleted realm", err)
	_, err = f.s.GetIdentityProviderByID(f.ctx, r.ID, doomed.ID)
	wantNotFound(t, "provider of a deleted realm by ID", err)
	_, err = f.s.GetUserIdentity(f.ctx, r.ID, doomed.ID, "u")
	wantNotFound(t, "link of a deleted realm", err)
	_, err = f.s.TakeBrokerState(f.ctx, r.ID, states[0].ID, f.clock)
	wantNotFound(t, "state of a deleted realm", err)
	// Only the kept realm's state is left for the sweep.
	if n, err := f.s.DeleteExpiredBrokerStates(f.ctx, f.clock.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredBrokerStates after DeleteRealm = %d, %v; want 1 (the kept realm's)", n, err)
	}

	// The kept realm's provider and link are untouched.
	p, err := f.s.GetIdentityProvider(f.ctx, keep.ID, "corp")
	must(t, err)
	if _, err := f.s.GetUserIdentity(f.ctx, keep.ID, p.ID, "u"); err != nil {
		t.Errorf("the kept realm's link: %v", err)
	}
	// A realm of the same name starts without providers.
	again := f.realm(o.ID, "doomed")
	list, err := f.s.ListIdentityProviders(f.ctx, again.ID)
	must(t, err)
	if len(list) != 0 {
		t.Errorf("providers of the recreated realm: %+v", list)
	}
}
