package templates

import "embed"

// FS holds every embedded template and static file, rooted at this
// directory (e.g. "setup.html", "mail/set_password.txt", "ward.js",
// "console/realms.html").
//
//go:embed *.html *.js mail/*.html mail/*.txt console/*.html console/static/*
var FS embed.FS
