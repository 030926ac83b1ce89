package main

import (
	"fmt"
	"os"
)

// The HTTP server (config from ASSETS_* variables, the Guard, the routes of
// CONTRACT §5) comes with the attributes Guard; until then the command only
// says so.
func main() {
	fmt.Fprintln(os.Stderr, "assets: the HTTP server is not built yet (issue 6 in progress); see cmd/assets/store.go")
	os.Exit(2)
}
