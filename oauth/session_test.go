package oauth

import (
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"
)

// TestUserSessionClone: a clone equals the session field by field, and
// changing any map, slice or claims field of the clone leaves the original
// as it was: the test walks every exported field by reflection and fails
// on any filled map, slice or pointer the two share.
func TestUserSessionClone(t *testing.T) {
	now := time.Now().UTC()
	orig := &userSession{
		Access: &fjwt.JWTClaims{Subject: "u", Issuer: "i", Audience: []string{"a"}, JTI: "j", IssuedAt: now,
			NotBefore: now, ExpiresAt: now, Scope: []string{"openid"}, Extra: map[string]any{"k": "v"}},
		AccessHdr: &fjwt.Headers{Extra: map[string]any{"kid": "1"}},
		ID: &fjwt.IDTokenClaims{JTI: "j", Issuer: "i", Subject: "u", Audience: []string{"a"}, Nonce: "n",
			AuthenticationMethodsReferences: []string{"pwd"}, Extra: map[string]any{"sid": "s"}},
		IDHdr:     &fjwt.Headers{Extra: map[string]any{"kid": "2"}},
		Expires:   map[fosite.TokenType]time.Time{fosite.RefreshToken: now},
		UserID:    "u",
		SessionID: "s",
		AuthTime:  now,
		Offline:   true,
		OrgID:     "o",
	}
	clone := orig.Clone().(*userSession)
	if !reflect.DeepEqual(clone, orig) {
		t.Fatalf("clone differs:\n%+v\n%+v", clone, orig)
	}
	// No reference-typed value may be shared between the two.
	var walk func(path string, a, b reflect.Value)
	walk = func(path string, a, b reflect.Value) {
		switch a.Kind() {
		case reflect.Pointer:
			if a.IsNil() {
				return
			}
			if a.Pointer() == b.Pointer() {
				t.Errorf("%s is shared between clone and original", path)
				return
			}
			walk(path, a.Elem(), b.Elem())
		case reflect.Map, reflect.Slice:
			if a.Len() > 0 && a.Pointer() == b.Pointer() {
				t.Errorf("%s is shared between clone and original", path)
			}
		case reflect.Struct:
			for i := range a.NumField() {
				if a.Type().Field(i).IsExported() {
					walk(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
				}
			}
		}
	}
	walk("session", reflect.ValueOf(clone), reflect.ValueOf(orig))
}
