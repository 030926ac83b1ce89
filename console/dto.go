package console

import (
	"time"

	"github.com/wardiam/ward/realm"
)

// Response shapes. Field names are the wire contract (CONTRACT §3, and
// docs/openapi.yaml); converters below are the only place domain types turn
// into them, so nothing such as a secret hash can leak by accident: a field
// that is not copied here is never written.

// listResponse is every list answer: next_cursor is absent on the last page.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func listOf[S, T any](p realm.Page[S], conv func(*S) T) listResponse[T] {
	out := listResponse[T]{Items: make([]T, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		out.Items = append(out.Items, conv(&p.Items[i]))
	}
	return out
}

func utc(t time.Time) time.Time { return t.UTC() }

// nonNil keeps lists as [] rather than null in answers.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type memberDTO struct {
	ID        string `json:"id"`
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
	Active    bool   `json:"active"`
	// Invited: no password set yet (POST …/invitation mails a new link).
	Invited   bool      `json:"invited"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toMember(m *realm.Member) memberDTO {
	d := memberDTO{ID: m.ID, UserID: m.UserID, Role: string(m.Role), Invited: m.Invited, CreatedAt: utc(m.CreatedAt), UpdatedAt: utc(m.UpdatedAt)}
	if m.User != nil {
		d.Email, d.FirstName, d.LastName, d.Active = m.User.Email, m.User.FirstName, m.User.LastName, m.User.Active
	}
	return d
}

type orgClientDTO struct {
	ID          string    `json:"id"`
	ClientID    string    `json:"client_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Role        string    `json:"role"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// ClientSecret is set only in the create and rotate answers.
	ClientSecret string `json:"client_secret,omitempty"`
}

func toOrgClient(c *realm.Client) orgClientDTO {
	return orgClientDTO{ID: c.ID, ClientID: c.ClientID, Name: c.Name, Description: c.Description, Role: string(c.OrgRole),
		Active: c.Active, CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt)}
}

type realmDTO struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// PasswordLogin says whether the login page shows the password form
	// (CONTRACT §9); false: people sign in through identity providers only.
	PasswordLogin bool      `json:"password_login"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toRealm(r *realm.Realm) realmDTO {
	return realmDTO{ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, PasswordLogin: !r.PasswordLoginDisabled,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

type attributeDTO struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Multi       bool      `json:"multi"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toAttribute(a *realm.Attribute) attributeDTO {
	return attributeDTO{ID: a.ID, Name: a.Name, Type: string(a.Type), Multi: a.Multi, Description: a.Description,
		CreatedAt: utc(a.CreatedAt), UpdatedAt: utc(a.UpdatedAt)}
}

type groupDTO struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Attributes  map[string]any `json:"attributes"`
	IPAllowList []string       `json:"ip_allow_list"`
	// IDPPrimaryPriority ranks the group among those identity provider
	// mappings put a user in (CONTRACT §9); 0: never the primary group.
	IDPPrimaryPriority int       `json:"idp_primary_priority"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func toGroup(g *realm.Group) groupDTO {
	attrs := g.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return groupDTO{ID: g.ID, Name: g.Name, Description: g.Description, Attributes: attrs,
		IPAllowList: nonNil(g.IPAllowList), IDPPrimaryPriority: g.IDPPrimaryPriority,
		CreatedAt: utc(g.CreatedAt), UpdatedAt: utc(g.UpdatedAt)}
}

type groupMemberDTO struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	ClientID string `json:"client_id,omitempty"`
	Name     string `json:"name"`
}

func toGroupMember(m *realm.GroupMember) groupMemberDTO {
	return groupMemberDTO{Kind: m.Kind, ID: m.ID, ClientID: m.ClientID, Name: m.Name}
}

type userDTO struct {
	ID           string   `json:"id"`
	Email        string   `json:"email"`
	FirstName    string   `json:"first_name"`
	LastName     string   `json:"last_name"`
	Active       bool     `json:"active"`
	Groups       []string `json:"groups"`
	PrimaryGroup *string  `json:"primary_group"`
	// EffectiveAttributes is present on single-user answers, absent in lists
	// (computing it per row would cost a merge per user).
	EffectiveAttributes map[string]any `json:"effective_attributes,omitzero"`
	// IdentityProviders are the user's links to the realm's identity
	// providers: in the answer of GET of one user only (a read of its
	// own), always an array there.
	IdentityProviders []userIdentityDTO `json:"identity_providers,omitzero"`
	// SignIn is present on single-user answers: whether a password is set
	// and the brute-force lock.
	SignIn    *userSignInDTO `json:"sign_in,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// userSignInDTO is a user's sign-in state: has_password false is a user
// invited and not yet through its set-password link (or one created by an
// identity provider); locked_until is set while sign-in is locked after
// too many failures.
type userSignInDTO struct {
	HasPassword   bool       `json:"has_password"`
	LockedUntil   *time.Time `json:"locked_until"`
	FailedSignIns int        `json:"failed_sign_ins"`
	Lockouts      int        `json:"lockouts"`
}

// userSessionDTO is one of a user's live sign-ins (GET …/users/{id}/sessions).
type userSessionDTO struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	SessionID  *string   `json:"session_id"`
	ClientID   *string   `json:"client_id"`
	IPAddress  *string   `json:"ip_address"`
	StartedAt  time.Time `json:"started_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func toUserSession(s *realm.UserSession) userSessionDTO {
	return userSessionDTO{ID: s.ID, Kind: s.Kind, SessionID: nullable(s.SessionID), ClientID: nullable(s.ClientID),
		IPAddress: nullable(s.IPAddress), StartedAt: utc(s.StartedAt), LastUsedAt: utc(s.LastUsedAt), ExpiresAt: utc(s.ExpiresAt)}
}

func toUser(u *realm.User) userDTO {
	return userDTO{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Active: u.Active,
		Groups: nonNil(u.Groups), PrimaryGroup: nullable(u.PrimaryGroup), CreatedAt: utc(u.CreatedAt), UpdatedAt: utc(u.UpdatedAt)}
}

func toUserView(v *realm.UserView) userDTO {
	d := toUser(&v.User)
	d.EffectiveAttributes = v.EffectiveAttributes
	if d.EffectiveAttributes == nil {
		d.EffectiveAttributes = map[string]any{}
	}
	d.SignIn = &userSignInDTO{HasPassword: v.HasPassword, LockedUntil: v.Lock.LockedUntil,
		FailedSignIns: v.Lock.FailedSignIns, Lockouts: v.Lock.Lockouts}
	return d
}

type clientDTO struct {
	ID                  string         `json:"id"`
	ClientID            string         `json:"client_id"`
	Name                string         `json:"name"`
	Description         string         `json:"description"`
	Kind                string         `json:"kind"`
	Active              bool           `json:"active"`
	Public              bool           `json:"public"`
	Audience            []string       `json:"audience"`
	Groups              []string       `json:"groups"`
	PrimaryGroup        *string        `json:"primary_group"`
	RedirectURIs        []string       `json:"redirect_uris"`
	WebOrigins          []string       `json:"web_origins"`
	Communication       *string        `json:"communication"`
	DisplayName         string         `json:"display_name"`
	OfflineAccess       bool           `json:"offline_access"`
	IDTokenAlg          *string        `json:"id_token_signed_response_alg"`
	DefaultScopes       []string       `json:"default_scopes"`
	OptionalScopes      []string       `json:"optional_scopes"`
	EffectiveAttributes map[string]any `json:"effective_attributes,omitzero"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
	// ClientSecret is set only in the create and rotate answers.
	ClientSecret string `json:"client_secret,omitempty"`
}

func toClient(c *realm.Client) clientDTO {
	return clientDTO{ID: c.ID, ClientID: c.ClientID, Name: c.Name, Description: c.Description, Kind: string(c.Kind),
		Active: c.Active, Public: c.Public, Audience: nonNil(c.Audience), Groups: nonNil(c.Groups),
		PrimaryGroup: nullable(c.PrimaryGroup), RedirectURIs: nonNil(c.RedirectURIs), WebOrigins: nonNil(c.WebOrigins),
		Communication: nullable(string(c.Communication)), DisplayName: c.DisplayName,
		OfflineAccess: c.AllowOfflineAccess, IDTokenAlg: nullable(c.IDTokenAlg),
		DefaultScopes: nonNil(c.DefaultScopes), OptionalScopes: nonNil(c.OptionalScopes),
		CreatedAt: utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt)}
}

func toClientView(v *realm.ClientView) clientDTO {
	d := toClient(&v.Client)
	d.EffectiveAttributes = v.EffectiveAttributes
	if d.EffectiveAttributes == nil {
		d.EffectiveAttributes = map[string]any{}
	}
	return d
}

type eventDTO struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ActorType  string         `json:"actor_type"`
	ActorID    string         `json:"actor_id"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Details    map[string]any `json:"details"`
	Time       time.Time      `json:"time"`
}

func toEvent(e *realm.Event) eventDTO {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	return eventDTO{ID: e.ID, Type: string(e.Type), ActorType: e.ActorType, ActorID: e.ActorID, TargetType: e.TargetType,
		TargetID: e.TargetID, Details: details, Time: utc(e.Time)}
}

// Request shapes. Create bodies use plain fields (absent and zero mean the
// same); patch bodies use Optional so that a left-out field stays as it is
// and null is told apart.

type memberCreateRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
}

type memberPatchRequest struct {
	Role Optional[string] `json:"role"`
}

type orgClientCreateRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Role        string `json:"role"`
}

type orgClientPatchRequest struct {
	Name        Optional[string] `json:"name"`
	Description Optional[string] `json:"description"`
	Role        Optional[string] `json:"role"`
	Active      Optional[bool]   `json:"active"`
}

type rotateRequest struct {
	GraceSeconds int `json:"grace_seconds"`
}

type realmCreateRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

type realmPatchRequest struct {
	DisplayName   Optional[string] `json:"display_name"`
	PasswordLogin Optional[bool]   `json:"password_login"`
}

type attributeCreateRequest struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Multi       bool   `json:"multi"`
	Description string `json:"description"`
}

type attributePatchRequest struct {
	Type        Optional[string] `json:"type"`
	Multi       Optional[bool]   `json:"multi"`
	Description Optional[string] `json:"description"`
}

// groupCreateRequest: a left-out (or null) ip_allow_list is none.
type groupCreateRequest struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Attributes  map[string]any `json:"attributes"`
	IPAllowList []string       `json:"ip_allow_list"`
	// IDPPrimaryPriority: left out, 0.
	IDPPrimaryPriority int `json:"idp_primary_priority"`
}

type groupPatchRequest struct {
	Name        Optional[string] `json:"name"`
	Description Optional[string] `json:"description"`
	// Attributes stays raw so its numbers can be decoded with UseNumber.
	Attributes Optional[rawJSON] `json:"attributes"`
	// IPAllowList replaces the list when given; null is refused ([] for
	// none).
	IPAllowList        Optional[[]string] `json:"ip_allow_list"`
	IDPPrimaryPriority Optional[int]      `json:"idp_primary_priority"`
}

type userCreateRequest struct {
	Email                string   `json:"email"`
	FirstName            string   `json:"first_name"`
	LastName             string   `json:"last_name"`
	Groups               []string `json:"groups"`
	PrimaryGroup         string   `json:"primary_group"`
	SendSetPasswordEmail *bool    `json:"send_set_password_email"`
}

type userPatchRequest struct {
	Email        Optional[string]   `json:"email"`
	FirstName    Optional[string]   `json:"first_name"`
	LastName     Optional[string]   `json:"last_name"`
	Active       Optional[bool]     `json:"active"`
	Groups       Optional[[]string] `json:"groups"`
	PrimaryGroup Optional[string]   `json:"primary_group"`
}

type clientCreateRequest struct {
	ClientID      string   `json:"client_id"`
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	Description   string   `json:"description"`
	Groups        []string `json:"groups"`
	PrimaryGroup  string   `json:"primary_group"`
	Audience      []string `json:"audience"`
	Public        bool     `json:"public"`
	RedirectURIs  []string `json:"redirect_uris"`
	WebOrigins    []string `json:"web_origins"`
	Communication string   `json:"communication"`
	DisplayName   string   `json:"display_name"`
	OfflineAccess bool     `json:"offline_access"`
	IDTokenAlg    string   `json:"id_token_signed_response_alg"`
	// DefaultScopes absent (or null): ["profile","email"] for applications.
	DefaultScopes  *[]string `json:"default_scopes"`
	OptionalScopes []string  `json:"optional_scopes"`
}

type clientPatchRequest struct {
	Name           Optional[string]   `json:"name"`
	Description    Optional[string]   `json:"description"`
	Active         Optional[bool]     `json:"active"`
	Groups         Optional[[]string] `json:"groups"`
	PrimaryGroup   Optional[string]   `json:"primary_group"`
	Audience       Optional[[]string] `json:"audience"`
	RedirectURIs   Optional[[]string] `json:"redirect_uris"`
	WebOrigins     Optional[[]string] `json:"web_origins"`
	Communication  Optional[string]   `json:"communication"`
	DisplayName    Optional[string]   `json:"display_name"`
	OfflineAccess  Optional[bool]     `json:"offline_access"`
	IDTokenAlg     Optional[string]   `json:"id_token_signed_response_alg"`
	DefaultScopes  Optional[[]string] `json:"default_scopes"`
	OptionalScopes Optional[[]string] `json:"optional_scopes"`
}

// ---- policies ----

type policyDTO struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	ResourceType string    `json:"resource_type"`
	Actions      []string  `json:"actions"`
	Condition    string    `json:"condition"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toPolicy(p *realm.Policy) policyDTO {
	return policyDTO{ID: p.ID, Name: p.Name, Description: p.Description, ResourceType: p.ResourceType,
		Actions: nonNil(p.Actions), Condition: p.Condition, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt)}
}

type policyCreateRequest struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	ResourceType string   `json:"resource_type"`
	Actions      []string `json:"actions"`
	Condition    string   `json:"condition"`
}

type policyPatchRequest struct {
	Name         Optional[string]   `json:"name"`
	Description  Optional[string]   `json:"description"`
	ResourceType Optional[string]   `json:"resource_type"`
	Actions      Optional[[]string] `json:"actions"`
	Condition    Optional[string]   `json:"condition"`
}

type policyDecisionDTO struct {
	Allowed     bool                 `json:"allowed"`
	Policies    []string             `json:"policies"`
	Errors      []policyEvalErrorDTO `json:"errors,omitempty"`
	Explanation []policyTraceDTO     `json:"explanation"`
}

// policyTraceDTO is one policy of the resource type and action: "allowed"
// or "denied" (what its condition evaluated to), or "error" with why.
type policyTraceDTO struct {
	Policy string  `json:"policy"`
	Result string  `json:"result"`
	Error  *string `json:"error,omitempty"`
}

type policyEvalErrorDTO struct {
	Policy string `json:"policy"`
	Error  string `json:"error"`
}

func toPolicyDecision(r *realm.PolicyTestResult) policyDecisionDTO {
	d := policyDecisionDTO{Allowed: r.Allowed, Policies: nonNil(r.Policies), Explanation: []policyTraceDTO{}}
	for _, e := range r.Errors {
		d.Errors = append(d.Errors, policyEvalErrorDTO{Policy: e.Policy, Error: e.Err.Error()})
	}
	for _, tr := range r.Explanation {
		t := policyTraceDTO{Policy: tr.Policy, Result: "denied"}
		switch {
		case tr.Err != nil:
			msg := tr.Err.Error()
			t.Result, t.Error = "error", &msg
		case tr.Allowed:
			t.Result = "allowed"
		}
		d.Explanation = append(d.Explanation, t)
	}
	return d
}

type permissionDTO struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toPermission(p *realm.Permission) permissionDTO {
	return permissionDTO{Name: p.Name, Description: p.Description, CreatedAt: utc(p.CreatedAt), UpdatedAt: utc(p.UpdatedAt)}
}

type permissionCreateRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type permissionPatchRequest struct {
	Description Optional[string] `json:"description"`
}

// apiKeyDTO is an API key as the admin API shows it. Key is set only in
// the answer to its creation (CONTRACT §6); Ward cannot show it again.
type apiKeyDTO struct {
	ID          string     `json:"id"`
	Key         string     `json:"key,omitempty"`
	Prefix      string     `json:"prefix"`
	Description string     `json:"description"`
	Permissions []string   `json:"permissions"`
	Active      bool       `json:"active"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toAPIKey(k *realm.APIKey) apiKeyDTO {
	return apiKeyDTO{ID: k.ID, Prefix: k.Prefix, Description: k.Description, Permissions: nonNil(k.Permissions),
		Active: k.Active, CreatedAt: utc(k.CreatedAt), UpdatedAt: utc(k.UpdatedAt),
		ExpiresAt: utcPtr(k.ExpiresAt), LastUsedAt: utcPtr(k.LastUsedAt)}
}

type apiKeyCreateRequest struct {
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	ExpiresAt   *string  `json:"expires_at"`
}

type apiKeyPatchRequest struct {
	Description Optional[string]   `json:"description"`
	Permissions Optional[[]string] `json:"permissions"`
	Active      Optional[bool]     `json:"active"`
}

type apiKeyBulkRequest struct {
	IDs    []string `json:"ids"`
	Active *bool    `json:"active"`
}

// settingsDTO is a realm's settings with every default filled in
// (GET/PATCH …/settings).
type settingsDTO struct {
	DisplayName string `json:"display_name"`
	Branding    struct {
		AccentColor *string `json:"accent_color"`
		LogoURL     *string `json:"logo_url"`
	} `json:"branding"`
	PasswordPolicy struct {
		MinLength   int `json:"min_length"`
		MinStrength int `json:"min_strength"`
	} `json:"password_policy"`
	BruteForce struct {
		LockThreshold  int `json:"lock_threshold"`
		MaxLockSeconds int `json:"max_lock_seconds"`
	} `json:"brute_force"`
	Lifetimes struct {
		SessionSeconds     int `json:"session_seconds"`
		AccessTokenSeconds int `json:"access_token_seconds"`
	} `json:"lifetimes"`
}

func toSettings(r *realm.Realm) settingsDTO {
	s := r.Settings
	var d settingsDTO
	d.DisplayName = r.DisplayName
	d.Branding.AccentColor, d.Branding.LogoURL = nullable(s.AccentColor), nullable(r.LogoPath())
	d.PasswordPolicy.MinLength, d.PasswordPolicy.MinStrength = s.PasswordMin(), s.PasswordMinStrength
	d.BruteForce.LockThreshold, d.BruteForce.MaxLockSeconds = s.LockAfter(), int(s.MaxLock()/time.Second)
	d.Lifetimes.SessionSeconds = int(s.SessionLife(0) / time.Second)
	d.Lifetimes.AccessTokenSeconds = int(s.AccessTokenLife(0) / time.Second)
	return d
}

// settingsPatchRequest changes some settings; null sets one back to its
// default.
type settingsPatchRequest struct {
	DisplayName Optional[string] `json:"display_name"`
	Branding    *struct {
		AccentColor Optional[string] `json:"accent_color"`
	} `json:"branding"`
	PasswordPolicy *struct {
		MinLength   Optional[int] `json:"min_length"`
		MinStrength Optional[int] `json:"min_strength"`
	} `json:"password_policy"`
	BruteForce *struct {
		LockThreshold  Optional[int] `json:"lock_threshold"`
		MaxLockSeconds Optional[int] `json:"max_lock_seconds"`
	} `json:"brute_force"`
	Lifetimes *struct {
		SessionSeconds     Optional[int] `json:"session_seconds"`
		AccessTokenSeconds Optional[int] `json:"access_token_seconds"`
	} `json:"lifetimes"`
}
