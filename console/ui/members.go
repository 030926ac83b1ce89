package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wardiam/ward/realm"
)

// Organization members: every role may see who administers the org (the
// same rule as GET /admin/v1/members); only owners add members, change
// roles and remove members, so only owners get those forms.

var memberRoles = []realm.Role{realm.RoleOwner, realm.RoleAdmin, realm.RoleViewer}

func (u *UI) registerMembers(e *echo.Echo) {
	e.GET("/console/members", u.page(u.membersPage))
	e.POST("/console/members", u.page(u.createMember))
	e.GET("/console/members/:id", u.page(u.memberPage))
	e.POST("/console/members/:id", u.page(u.updateMember))
	e.GET("/console/members/:id/delete", u.page(u.confirmDeleteMember))
	e.POST("/console/members/:id/delete", u.page(u.deleteMember))
	e.POST("/console/members/:id/invitation", u.page(u.resendInvitation))
}

// membersView is the data of console/members.html.
type membersView struct {
	base
	Members []realm.Member
	Roles   []realm.Role
	Next    string
	Paged   bool   // a page after the first
	Self    string // the signed-in member's console user ID
}

func (u *UI) membersPage(r *req) error { return u.showMembers(r, http.StatusOK, nil, nil) }

func (u *UI) showMembers(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Members", "members")
	if err != nil {
		return r.fail(err)
	}
	cursor, err := r.cursor()
	if err != nil {
		return r.fail(err)
	}
	page, err := u.svc.ListMembers(r.ctx, realm.ListOptions{Limit: 200, Cursor: cursor})
	if err != nil {
		return r.fail(err)
	}
	if !b.refill(f, fe) {
		b.Form.Set("role", string(realm.RoleViewer))
	}
	return r.render(status, "members.html", &membersView{base: b, Members: page.Items, Roles: memberRoles,
		Next: page.NextCursor, Paged: r.c.QueryParam("cursor") != "", Self: r.p.ActorID})
}

func (u *UI) createMember(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	m, err := u.svc.CreateMember(r.ctx, realm.MemberInput{Email: strings.TrimSpace(f.Get("email")),
		FirstName: f.Get("first_name"), LastName: f.Get("last_name"), Role: realm.Role(f.Get("role"))})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showMembers(r, status, f, fe)
		}
		return r.fail(err)
	}
	// A new console account is mailed a set-password link; an existing one
	// (a member of another org) signs in with its password.
	return r.done(f, "/console/members", "Member "+m.User.Email+" added as "+string(m.Role)+".")
}

// memberView is the data of console/member.html.
type memberView struct {
	base
	M     *realm.Member
	Roles []realm.Role
	Self  bool
}

func (u *UI) memberPage(r *req) error { return u.showMember(r, http.StatusOK, nil, nil) }

func (u *UI) showMember(r *req, status int, f url.Values, fe fieldErrors) error {
	b, err := r.base("Member", "members")
	if err != nil {
		return r.fail(err)
	}
	m, err := u.svc.GetMember(r.ctx, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	// Errors may come without a form (a refused delete): the edit form
	// then shows the stored values, never blanks that saving would store.
	if !b.refill(f, fe) {
		b.Form.Set("role", string(m.Role))
	}
	return r.render(status, "member.html", &memberView{base: b, M: m, Roles: memberRoles, Self: m.UserID == r.p.ActorID})
}

func (u *UI) updateMember(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	role := realm.Role(f.Get("role"))
	m, err := u.svc.UpdateMember(r.ctx, r.c.Param("id"), realm.MemberPatch{Role: &role})
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showMember(r, status, f, fe)
		}
		return r.fail(err)
	}
	return r.done(f, "/console/members", "Member "+m.User.Email+" is now "+string(m.Role)+".")
}

// confirmDeleteMember asks before removing a member from the org.
func (u *UI) confirmDeleteMember(r *req) error {
	m, err := u.svc.GetMember(r.ctx, r.c.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	path := "/console/members/" + url.PathEscape(m.ID)
	points := []string{m.User.Email + " can no longer act for this organization; their console pages end at the next click.",
		"The console account stays: it may belong to other organizations."}
	if m.UserID == r.p.ActorID {
		points[0] = "You can no longer act for this organization; your console session for it ends."
	}
	return r.confirm("Remove member", "members", confirmPage{
		Heading: "Remove " + m.User.Email + " from the organization?", Points: points,
		Action: path + "/delete", Button: "Remove member", Back: path, Allowed: r.p.Role == realm.RoleOwner,
		Denied: "Only owners remove members.",
	})
}

func (u *UI) deleteMember(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	if err := u.svc.DeleteMember(r.ctx, r.c.Param("id")); err != nil {
		if fe, status, ok := refused(err); ok {
			// "The last owner cannot be removed" is about the removal,
			// not the role menu of the page's other form.
			return u.showMember(r, status, nil, fe.asWhole())
		}
		return r.fail(err)
	}
	return r.done(f, "/console/members", "Member removed from the organization.")
}

// resendInvitation mails an invited member a new invitation.
func (u *UI) resendInvitation(r *req) error {
	f, done, err := r.form()
	if done || err != nil {
		return err
	}
	m, err := u.svc.ResendInvitation(r.ctx, r.c.Param("id"))
	if err != nil {
		if fe, status, ok := refused(err); ok {
			return u.showMember(r, status, nil, fe)
		}
		return r.fail(err)
	}
	return r.done(f, "/console/members/"+url.PathEscape(m.ID), "A new invitation was sent to "+m.User.Email+". Links sent before no longer work.")
}
