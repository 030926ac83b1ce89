package ui

import "github.com/labstack/echo/v4"

func (u *UI) registerPolicies(e *echo.Echo) {}
