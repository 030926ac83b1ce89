package console

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/wardiam/ward/oauth/oauthtest"
	"github.com/wardiam/ward/realm"
)

// pngOf is a w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRealmLogoAPI (issue 19): a realm's login page logo is uploaded as a
// PNG or JPEG (by its bytes), served by Ward at the realm's own address
// with headers that keep it an image, shown on the login page (whose CSP
// lets it load), refused by name when it is not an image, too big or too
// large, and removed. On SQLite and PostgreSQL.
func TestRealmLogoAPI(t *testing.T) {
	for name, open := range map[string]func(testing.TB) realm.Store{
		"SQLite": oauthtest.OpenSQLite, "Postgres": oauthtest.OpenPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSessionsEnv(t, open)
			path := "/admin/v1/realms/shop/settings/logo"
			put := func(token string, body []byte) response {
				t.Helper()
				return s.raw(token, http.MethodPut, path, "image/png", bytes.NewReader(body))
			}
			for what, body := range map[string][]byte{
				"an SVG":        []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
				"empty":         nil,
				"over 256 KiB":  append(pngOf(t, 10, 10), make([]byte, realm.MaxLogoBytes)...),
				"3000 px wide":  pngOf(t, 3000, 1),
				"a PNG's start": pngOf(t, 10, 10)[:20],
			} {
				if p := problem(t, put(adminToken, body), http.StatusBadRequest); len(p.Errors) != 1 || p.Errors[0].Field != "logo" {
					t.Errorf("%s: %+v, want a refusal naming logo", what, p)
				}
			}
			problem(t, put(viewerToken, pngOf(t, 10, 10)), http.StatusForbidden)
			logo := pngOf(t, 120, 48)
			got := put(adminToken, logo)
			if got.status != http.StatusOK {
				t.Fatalf("PUT logo = %d %s", got.status, got.body)
			}
			logoURL, _ := got.json(t)["branding"].(map[string]any)["logo_url"].(string)
			if !strings.HasPrefix(logoURL, "/realms/shop/branding/logo?v=") {
				t.Fatalf("logo_url = %q", logoURL)
			}
			resp, err := http.Get(s.f.Env.Base + logoURL)
			if err != nil {
				t.Fatal(err)
			}
			served, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(served, logo) || resp.Header.Get("Content-Type") != "image/png" ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("the served logo: %d, %d bytes, headers %v", resp.StatusCode, len(served), resp.Header)
			}
			page := oauthtest.Fetch(t, oauthtest.Browser(t), http.MethodGet, s.f.Conf.AuthCodeURL(oauthtest.RandomString(t),
				oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), nil)
			if !strings.Contains(page.Body, `<img src="`+strings.ReplaceAll(logoURL, "&", "&amp;")+`"`) {
				t.Errorf("the login page does not show the logo:\n%s", page.Body)
			}
			if n := countOf(s.eventTypes(s.f.Realm.ID), string(realm.EventRealmSettingsUpdated)); n != 1 {
				t.Errorf("%d realm.settings_updated events after one upload, want 1", n)
			}
			after := s.must(http.StatusOK, adminToken, http.MethodDelete, path, nil)
			if after["branding"].(map[string]any)["logo_url"] != nil {
				t.Errorf("after DELETE: %v", after["branding"])
			}
			gone, err := http.Get(s.f.Env.Base + logoURL)
			if err != nil {
				t.Fatal(err)
			}
			gone.Body.Close()
			if gone.StatusCode != http.StatusNotFound {
				t.Errorf("the removed logo: %d, want 404", gone.StatusCode)
			}
		})
	}
}
