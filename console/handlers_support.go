package console

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- Support access (CONTRACT §7) ----

// supportAccessDTO is the owner's switch as the admin API shows it.
type supportAccessDTO struct {
	Enabled   bool       `json:"enabled"`
	Until     *time.Time `json:"until,omitempty"`
	EnabledAt *time.Time `json:"enabled_at,omitempty"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// supportAccessRequest switches it: enabled is required; until (RFC 3339)
// only goes with enabled true, and defaults to 24 hours from now.
type supportAccessRequest struct {
	Enabled *bool      `json:"enabled"`
	Until   *time.Time `json:"until"`
}

func toSupportAccessDTO(v *realm.SupportAccessView) supportAccessDTO {
	return supportAccessDTO{Enabled: v.Enabled, Until: utcPtr(v.Until), EnabledAt: utcPtr(v.EnabledAt),
		UpdatedBy: v.UpdatedBy, UpdatedAt: utcPtr(v.UpdatedAt)}
}

func (a *API) getSupportAccess(c echo.Context) error {
	v, err := a.svc.GetSupportAccess(ctx(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSupportAccessDTO(v))
}

func (a *API) putSupportAccess(c echo.Context) error {
	var req supportAccessRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	v, err := a.svc.SetSupportAccess(ctx(c), realm.SupportAccessInput{Enabled: req.Enabled, Until: req.Until})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSupportAccessDTO(v))
}
