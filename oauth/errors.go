package oauth

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// oauthError is the RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError answers an OAuth-style JSON error. Error responses are never
// cached.
func writeError(c echo.Context, status int, code, description string) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(status, oauthError{Error: code, Description: description})
}

// realmError maps a failure to get a realm's provider: unknown realm → 404,
// anything else → 503 (the database or a key is unavailable; we fail closed
// and say nothing more).
func (s *Server) realmError(c echo.Context, err error) error {
	if errors.Is(err, errRealmNotFound) {
		return writeError(c, http.StatusNotFound, "not_found", "Realm not found.")
	}
	s.log.ErrorContext(c.Request().Context(), "oauth: realm provider unavailable",
		"realm", c.Param("realm"), "err", err)
	return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The server cannot serve this realm right now.")
}
