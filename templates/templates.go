package templates

import "embed"

// FS holds every embedded template and static file, rooted at this
// directory (e.g. "setup.html", "mail/set_password.txt", "ward.js").
//
//go:embed *.html *.js mail/*.html mail/*.txt
var FS embed.FS
