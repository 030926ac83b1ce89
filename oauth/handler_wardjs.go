package oauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/templates"
)

// ward.js (templates/ward.js) is the browser helper of CONTRACT §4: a plain
// ES module that applications import from /realms/{realm}/ward.js. The file
// is the same for every realm (it reads the realm from its own URL), so it
// is read once and served with an ETag; any origin may load it, since the
// apps that import it live on their own origins.

const pathWardJS = "/ward.js"

// wardJSCacheControl: browsers and proxies may keep it for a few minutes
// and revalidate with the ETag after that, so a new Ward version reaches
// apps soon.
const wardJSCacheControl = "public, max-age=300"

var wardJS, wardJSETag = loadWardJS()

func loadWardJS() ([]byte, string) {
	b, err := templates.FS.ReadFile("ward.js")
	if err != nil {
		panic("oauth: templates/ward.js is not embedded: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return b, `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// handleWardJS serves ward.js for a realm that exists.
func (s *Server) handleWardJS(c echo.Context) error {
	if _, err := s.providers.get(c.Request().Context(), c.Param("realm")); err != nil {
		return s.realmError(c, err)
	}
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", wardJSCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("ETag", wardJSETag)
	http.ServeContent(c.Response(), c.Request(), "ward.js", time.Time{}, bytes.NewReader(wardJS))
	return nil
}
