package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// The realm settings screen (issue 19): display name and login page
// colour, password policy, brute-force limits and lifetimes, the same
// settings as GET/PATCH …/settings. Every field shows the value in force,
// defaults included; emptying a number field goes back to the default.

func (u *UI) registerSettings(e *echo.Echo) {
	e.GET("/console/realms/:realm/settings", u.page(u.settingsPage))
	e.POST("/console/realms/:realm/settings", u.page(u.saveSettings))
	e.POST("/console/realms/:realm/settings/logo", u.page(u.uploadLogo))
	e.POST("/console/realms/:realm/settings/logo/delete", u.page(u.deleteLogo))
}

// settingsView is the data of console/settings.html.
type settingsView struct {
	base
	R *realm.Realm
}

// settingsFields are the form's number fields: form name, service field
// (for errors), and the value in force.
var settingsFields = []struct {
	name, field string
	value       func(realm.RealmSettings) int
}{
	{"min_length", "password_policy.min_length", func(s realm.RealmSettings) int { return s.PasswordMin() }},
	{"min_strength", "password_policy.min_strength", func(s realm.RealmSettings) int { return s.PasswordMinStrength }},
	{"lock_threshold", "brute_force.lock_threshold", func(s realm.RealmSettings) int { return s.LockAfter() }},
	{"max_lock_minutes", "brute_force.max_lock_seconds", func(s realm.RealmSettings) int { return int(s.MaxLock() / time.Minute) }},
	{"session_minutes", "lifetimes.session_seconds", func(s realm.RealmSettings) int { return int(s.SessionLife(0) / time.Minute) }},
	{"access_token_minutes", "lifetimes.access_token_seconds", func(s realm.RealmSettings) int { return int(s.AccessTokenLife(0) / time.Minute) }},
}

// inForce is the value in force of the form's number field name.
func inForce(name string, s realm.RealmSettings) int {
	for _, sf := range settingsFields {
		if sf.name == name {
			return sf.value(s)
		}
	}
	return 0
}

func (u *UI) settingsPage(r *req) error { return u.showSettings(r, http.StatusOK, nil, nil) }

func (u *UI) showSettings(r *req, status int, f url.Values, fe fieldErrors) error {
	rl, err := u.svc.GetRealm(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	b, err := r.base("Realm settings", "settings")
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form = url.Values{"display_name": {rl.DisplayName}, "accent_color": {rl.Settings.AccentColor}}
		for _, sf := range settingsFields {
			b.Form.Set(sf.name, strconv.Itoa(sf.value(rl.Settings)))
		}
	}
	// The service names nested fields and counts seconds; the form has
	// one input each, lifetimes in minutes.
	for _, sf := range settingsFields {
		if m, ok := fe[sf.field]; ok {
			delete(fe, sf.field)
			if strings.HasSuffix(sf.name, "_minutes") {
				m = minutesMessage(sf.field)
			}
			fe[sf.name] = strings.ReplaceAll(m, "(0 for the default)", "(empty for the default)")
		}
	}
	if m, ok := fe["branding.accent_color"]; ok {
		delete(fe, "branding.accent_color")
		fe["accent_color"] = m
	}
	return r.render(status, "settings.html", &settingsView{base: b, R: rl})
}

// minutesMessage is the bound of a lifetime as the form (in minutes) has it.
func minutesMessage(field string) string {
	switch field {
	case "brute_force.max_lock_seconds":
		return "must be a whole number of minutes from 1 to 1440 (empty for the default)"
	case "lifetimes.session_seconds":
		return "must be a whole number of minutes from 5 to 43200 (30 days; empty for the default)"
	}
	return "must be a whole number of minutes from 1 to 60 (empty for the default)"
}

func (u *UI) saveSettings(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	display, accent := f.Get("display_name"), f.Get("accent_color")
	p := realm.SettingsPatch{DisplayName: &display, AccentColor: &accent}
	fe := fieldErrors{}
	number := func(name string, scale int) *int {
		s := strings.TrimSpace(f.Get(name))
		n := 0
		if s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v > 1<<20 {
				fe[name] = "must be a whole number (empty for the default)"
				return nil
			}
			n = v * scale
		}
		return &n
	}
	p.PasswordMinLength = number("min_length", 1)
	p.PasswordMinStrength = number("min_strength", 1)
	p.LockThreshold = number("lock_threshold", 1)
	p.MaxLockSeconds = number("max_lock_minutes", 60)
	p.SessionSeconds = number("session_minutes", 60)
	p.AccessTokenSeconds = number("access_token_minutes", 60)
	if len(fe) > 0 {
		return u.showSettings(r, http.StatusBadRequest, f, fe)
	}
	// The form shows the values in force, defaults included: a default
	// sent back unchanged stays a default (0), so that it follows Ward's
	// if a later release moves it, and is not recorded as a change.
	cur, err := u.svc.GetRealm(r.ctx, r.realm)
	if err != nil {
		return r.fail(err)
	}
	s := cur.Settings
	keep := func(in **int, stored int, name string, scale int) {
		if *in != nil && stored == 0 && **in == inForce(name, s)*scale {
			*in = nil
		}
	}
	keep(&p.PasswordMinLength, s.PasswordMinLength, "min_length", 1)
	keep(&p.LockThreshold, s.LockThreshold, "lock_threshold", 1)
	keep(&p.MaxLockSeconds, s.MaxLockSeconds, "max_lock_minutes", 60)
	keep(&p.SessionSeconds, s.SessionSeconds, "session_minutes", 60)
	keep(&p.AccessTokenSeconds, s.AccessTokenSeconds, "access_token_minutes", 60)
	if _, err := u.svc.UpdateRealmSettings(r.ctx, r.realm, p); err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showSettings(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, realmPath(r.realm, "settings"), "Settings saved. Sign-in follows them within a few seconds.")
}

// uploadLogo takes the login page logo from a file input.
func (u *UI) uploadLogo(r *req) error {
	f, file, done, err := r.uploadForm("logo", realm.MaxLogoBytes)
	if done || err != nil {
		return err
	}
	if _, err := u.svc.SetRealmLogo(r.ctx, r.realm, file); err != nil {
		if fe, status, ok := refusedForm(err); ok {
			return u.showSettings(r, status, nil, fe)
		}
		return r.fail(err)
	}
	return r.done(f, realmPath(r.realm, "settings"), "Logo saved: the login page shows it.")
}

// deleteLogo removes the login page logo.
func (u *UI) deleteLogo(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	if _, err := u.svc.DeleteRealmLogo(r.ctx, r.realm); err != nil {
		return r.fail(err)
	}
	return r.done(f, realmPath(r.realm, "settings"), "Logo removed.")
}
