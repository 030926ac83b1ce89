package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// ---- IP allow lists (CONTRACT §7) ----

func (a *API) getIPAllowList(c echo.Context) error {
	list, err := a.svc.GetIPAllowList(ctx(c), c.Param("realm"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ipAllowListDTO{CIDRs: nonNil(list)})
}

func (a *API) putIPAllowList(c echo.Context) error {
	var req ipAllowListRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case !req.CIDRs.Set:
		return realm.Invalid("cidrs", "is required: the whole list, [] for none")
	case req.CIDRs.Null:
		return realm.Invalid("cidrs", "must not be null: [] for none")
	}
	list, err := a.svc.SetIPAllowList(ctx(c), c.Param("realm"), req.CIDRs.Value)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ipAllowListDTO{CIDRs: nonNil(list)})
}
