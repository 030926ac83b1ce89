package ui

import "net/http"

// confirmPage is the data of console/confirm.html: the page that asks
// before a destructive action (a GET page whose form POSTs the action), so
// that confirming works the same with a keyboard, a screen reader or no
// script. A role that may not do the action sees what it would do and the
// read-only note instead of the button.
type confirmPage struct {
	base
	Heading   string
	Points    []string // what will happen, one paragraph each
	Action    string   // the POST target
	Button    string
	Back      string // where Cancel leads
	BackLabel string
	Allowed   bool
	// Denied replaces the role's read-only note when the role may change
	// other things but not this (an admin on an owner-only action).
	Denied string
}

// confirm renders a confirmation page.
func (r *req) confirm(title, section string, v confirmPage) error {
	b, err := r.base(title, section)
	if err != nil {
		return r.fail(err)
	}
	v.base = b
	if v.BackLabel == "" {
		v.BackLabel = "Back"
	}
	return r.render(http.StatusOK, "confirm.html", &v)
}
