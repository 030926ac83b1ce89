//go:build !linux

package main

import "log/slog"

// releaseStartupPages does nothing here: see pageout_linux.go.
func releaseStartupPages(*slog.Logger) {}
