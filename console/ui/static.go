package ui

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/templates"
)

// static serves the console's stylesheet and script from the binary: the
// console loads nothing from anywhere else (no CDN, no build step). They
// change only with a new Ward, so browsers may keep them for an hour.
func (u *UI) static(c echo.Context) error {
	name := c.Param("file")
	if name != path.Base(name) {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(templates.FS, "console/static/"+name)
	if err != nil {
		return echo.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, ct, b)
}
