package oauth

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// TestAppendJSONMatchesMarshal: the claims encoder writes the very bytes
// json.Marshal writes, for the shapes it encodes itself and for those it
// hands back (escapes, non-ASCII, numbers of other types, nested values).
func TestAppendJSONMatchesMarshal(t *testing.T) {
	cases := []any{
		map[string]any{
			"sub": "svc", "iss": "http://127.0.0.1:8080/realms/acme", "aud": []string{"assets", "billing"},
			"iat": int64(1700000000), "exp": int64(-5), "client_id": "svc", "kind": "service_account",
			"groups": []string{}, "attributes": map[string]any{}, "scope": "",
		},
		map[string]any{"groups": []string(nil), "attributes": map[string]any(nil), "list": []any(nil)},
		map[string]any{"a<b": true, "c&d": false, "q\"uote": "back\\slash", "ctl": "tab\there\nnl\x01",
			"uni": "zürich ☃", "bad": "\xff\xfe", "sep": "\u2028\u2029", "del": "\x7f", "html": "<script>&amp;</script>"},
		map[string]any{"n": json.Number("12.50"), "f": 1.5, "big": 1e21, "i": 42, "u": uint8(7), "i32": int32(-3),
			"nil": nil, "t": time.Unix(0, 0).UTC(), "nested": []any{"x", int64(1), []any{true, map[string]any{"k": "v"}}}},
		map[string]any{"desks": []any{"news", "sport"}, "region": "eu", "tier": []string{"gold"}},
		"plain", "", int64(0), true, []string{"a", "<"}, []any{}, map[string]any{"": ""},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', 'Z', '0', ' ', '"', '\\', '<', '>', '&', '\n', 0x7f, 'é', '☃', 0x2028, '/', '\'', 0}
	for range 300 {
		m := map[string]any{}
		for range rng.IntN(8) {
			k := make([]rune, rng.IntN(5))
			for i := range k {
				k[i] = alphabet[rng.IntN(len(alphabet))]
			}
			v := make([]rune, rng.IntN(8))
			for i := range v {
				v[i] = alphabet[rng.IntN(len(alphabet))]
			}
			switch rng.IntN(4) {
			case 0:
				m[string(k)] = string(v)
			case 1:
				m[string(k)] = []string{string(v), string(k)}
			case 2:
				m[string(k)] = rng.Int64() - rng.Int64()
			default:
				m[string(k)] = map[string]any{string(v): []any{string(k), rng.IntN(2) == 0}}
			}
		}
		cases = append(cases, m)
	}
	for _, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON([]byte("prefix"), c)
		if err != nil {
			t.Fatalf("appendJSON(%#v): %v", c, err)
		}
		if string(got) != "prefix"+string(want) {
			t.Errorf("appendJSON(%#v)\n got %s\nwant %s", c, got[len("prefix"):], want)
		}
	}
	if _, err := appendJSON(nil, map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("a value json.Marshal refuses was encoded")
	}
}

// TestWriteAccessResponseAsFosite: Ward's token answer has fosite's
// headers, status and bytes for the same response (the values a grant
// sets, one needing escapes).
func TestWriteAccessResponseAsFosite(t *testing.T) {
	newResp := func() *fosite.AccessResponse {
		r := fosite.NewAccessResponse()
		r.SetAccessToken("eyJ.a.b")
		r.SetTokenType("Bearer")
		r.SetExpiresIn(5 * time.Minute)
		r.SetScopes(fosite.Arguments{"openid", "email"})
		r.SetExtra("refresh_token", "eyJ.r.s")
		r.SetExtra("id_token", `<"odd">&`)
		r.SetExtra("issued_token_type", "urn:ietf:params:oauth:token-type:access_token")
		return r
	}
	want := httptest.NewRecorder()
	(&fosite.Fosite{}).WriteAccessResponse(context.Background(), want, nil, newResp())
	got := httptest.NewRecorder()
	writeAccessResponse(got, newResp())
	if got.Code != want.Code || got.Body.String() != want.Body.String() {
		t.Errorf("answer %d %s, fosite's %d %s", got.Code, got.Body, want.Code, want.Body)
	}
	for _, h := range []string{"Cache-Control", "Pragma", "Content-Type"} {
		if got.Header().Get(h) != want.Header().Get(h) || got.Header().Get(h) == "" {
			t.Errorf("%s = %q, fosite's %q", h, got.Header().Get(h), want.Header().Get(h))
		}
	}
}

// TestIntrospectionAnswerAsEcho: Ward's introspection answer has the bytes,
// status and Content-Type c.JSON gives for the same answer, whichever
// optional fields are set and with values needing escapes.
func TestIntrospectionAnswerAsEcho(t *testing.T) {
	for _, in := range []introspection{
		{Active: true, ClientID: "svc", Subject: "svc", Scope: "", Expiry: 1700000300, IssuedAt: 1700000000,
			Audience: []string{}, Issuer: "http://127.0.0.1:8080/realms/acme", JTI: "01j", TokenType: "Bearer", Kind: "service_account"},
		{Active: true, ClientID: "web", Subject: "u1", Scope: "openid email", Expiry: -5, Audience: []string{"a", "<b>&"},
			Issuer: "i", JTI: "j", TokenType: "Refresh"},
		{Active: true, ClientID: "k\u2028\"", Kind: "api_key", Permissions: []string{"read:/docs/*"}, Audience: nil, TokenType: "Bearer"},
		{Permissions: []string{}},
	} {
		e := echo.New()
		want := httptest.NewRecorder()
		if err := e.NewContext(httptest.NewRequest("POST", "/", nil), want).JSON(http.StatusOK, in); err != nil {
			t.Fatal(err)
		}
		got := httptest.NewRecorder()
		if err := writeIntrospection(e.NewContext(httptest.NewRequest("POST", "/", nil), got), &in); err != nil {
			t.Fatal(err)
		}
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("answer %d %q %s, c.JSON's %d %q %s", got.Code, got.Header().Get("Content-Type"), got.Body,
				want.Code, want.Header().Get("Content-Type"), want.Body)
		}
	}
}
