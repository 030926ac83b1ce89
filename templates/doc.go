// Package templates embeds Ward's HTML pages, email templates and static
// assets, so the binary is the whole deployment.
//
// It holds files only and imports nothing of Ward. The login, set-password
// and console pages and the mails arrive with the issues that need them.
package templates
