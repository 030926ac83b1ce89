package templates

import "embed"

// FS holds every embedded template and static file, rooted at this
// directory (e.g. "setup.html").
//
//go:embed *.html
var FS embed.FS
