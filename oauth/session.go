package oauth

import (
	"maps"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/wardiam/ward/realm"
)

// userSession is the fosite session of a user's sign-in: the access
// token's claims (filled at the token endpoint, so groups, attributes and
// the user's active flag are current), the ID token's claims (fixed at the
// authorization endpoint: auth_time, sid, scoped profile and email), and
// who signed in. It is stored as JSON with the authorization code.
type userSession struct {
	Access    *fjwt.JWTClaims                `json:"access,omitempty"`
	AccessHdr *fjwt.Headers                  `json:"access_header,omitempty"`
	ID        *fjwt.IDTokenClaims            `json:"id,omitempty"`
	IDHdr     *fjwt.Headers                  `json:"id_header,omitempty"`
	Expires   map[fosite.TokenType]time.Time `json:"expires,omitempty"`
	UserID    string                         `json:"user_id"`
	SessionID string                         `json:"session_id"`
	AuthTime  time.Time                      `json:"auth_time"`
	// Offline: offline_access was granted, so refresh tokens outlive the
	// browser session (set at the authorization endpoint: the code grant
	// copies granted scopes only after the claims are decided).
	Offline bool `json:"offline,omitempty"`
	// OrgID is the org a console sign-in acts for (flow_console.go); empty in
	// other realms.
	OrgID string `json:"org_id,omitempty"`

	// grant is what a refresh grant read with the token presented (the
	// token, its user's claims, its session), for the rest of that grant;
	// never stored. Clone keeps it.
	grant *realm.RefreshGrant
}

var (
	_ oauth2.JWTSessionContainer = (*userSession)(nil)
	_ openid.Session             = (*userSession)(nil)
)

func (u *userSession) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if u.Expires == nil {
		u.Expires = map[fosite.TokenType]time.Time{}
	}
	u.Expires[key] = exp
}

func (u *userSession) GetExpiresAt(key fosite.TokenType) time.Time { return u.Expires[key] }
func (u *userSession) GetUsername() string                         { return "" }
func (u *userSession) GetSubject() string                          { return u.UserID }

// Clone copies the session so that no map, slice or claims struct is
// shared with u: fosite clones on every user grant and then sets claims on
// the copy. Extra values are copied shallowly; they are written whole
// (fillUserSession builds fresh ones), never changed in place.
func (u *userSession) Clone() fosite.Session {
	c := *u
	if u.Access != nil {
		a := *u.Access
		a.Audience, a.Scope, a.Extra = slices.Clone(a.Audience), slices.Clone(a.Scope), maps.Clone(a.Extra)
		c.Access = &a
	}
	if u.ID != nil {
		id := *u.ID
		id.Audience, id.AuthenticationMethodsReferences = slices.Clone(id.Audience), slices.Clone(id.AuthenticationMethodsReferences)
		id.Extra = maps.Clone(id.Extra)
		c.ID = &id
	}
	c.AccessHdr, c.IDHdr = cloneHeaders(u.AccessHdr), cloneHeaders(u.IDHdr)
	c.Expires = maps.Clone(u.Expires)
	return &c
}

func cloneHeaders(h *fjwt.Headers) *fjwt.Headers {
	if h == nil {
		return nil
	}
	return &fjwt.Headers{Extra: maps.Clone(h.Extra)}
}

func (u *userSession) GetJWTClaims() fjwt.JWTClaimsContainer {
	if u.Access == nil {
		u.Access = &fjwt.JWTClaims{}
	}
	return u.Access
}

func (u *userSession) GetJWTHeader() *fjwt.Headers {
	if u.AccessHdr == nil {
		u.AccessHdr = &fjwt.Headers{}
	}
	return u.AccessHdr
}

func (u *userSession) IDTokenClaims() *fjwt.IDTokenClaims {
	if u.ID == nil {
		u.ID = &fjwt.IDTokenClaims{}
	}
	return u.ID
}

func (u *userSession) IDTokenHeaders() *fjwt.Headers {
	if u.IDHdr == nil {
		u.IDHdr = &fjwt.Headers{}
	}
	return u.IDHdr
}
