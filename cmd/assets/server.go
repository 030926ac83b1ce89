package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardiam/ward/attributes"
)

// resourceType is what the realm's policies name for this server's assets.
const resourceType = "asset"

// maxBody bounds every request body (CONTRACT §2: 1 MiB).
const maxBody = 1 << 20

// Limits of share links.
const (
	maxShareTTL = 30 * 24 * time.Hour
	maxNameLen  = 200
)

// server holds what the handlers need. The guard verifies tokens and
// evaluates the realm's policies; the store keeps assets, ACLs and links.
type server struct {
	guard     *attributes.Guard
	store     *Store
	publicURL string // share links are publicURL + "/shares/" + token
	log       *slog.Logger
}

// routes returns the HTTP handler of CONTRACT §5. Every route but the share
// link needs a token; the permission check is made in the handlers, since
// it combines the asset's owner and ACL with the realm's policies, which
// the guard's per-route middleware alone cannot.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.Handler { return s.guard.Authenticate(requireSubject(h)) }
	mux.Handle("POST /assets", auth(s.createAsset))
	mux.Handle("GET /assets", auth(s.listAssets))
	mux.Handle("GET /assets/{id}", auth(s.getAsset))
	mux.Handle("PATCH /assets/{id}", auth(s.patchAsset))
	mux.Handle("DELETE /assets/{id}", auth(s.deleteAsset))
	mux.Handle("GET /assets/{id}/acl", auth(s.getACL))
	mux.Handle("PUT /assets/{id}/acl", auth(s.putACL))
	mux.Handle("POST /assets/{id}/shares", auth(s.createShare))
	mux.Handle("GET /assets/{id}/shares/{share_id}", auth(s.getShare))
	mux.Handle("DELETE /assets/{id}/shares/{share_id}", auth(s.revokeShare))
	mux.HandleFunc("GET /shares/{token}", s.openShare)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such route"})
	})
	return s.accessLog(mux)
}

// requireSubject refuses a verified token without a sub (Ward always sets
// one; owners and ACL entries are keyed by it) and records the sub for the
// access log.
func requireSubject(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerFrom(r.Context())
		if c.sub == "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the token has no sub"`)
			writeProblem(w, &problem{Status: http.StatusUnauthorized, Detail: "the token names no subject"})
			return
		}
		if rec, ok := w.(*statusRecorder); ok {
			rec.sub = c.sub
		}
		next(w, r)
	}
}

// accessLog logs one line per request. It logs the route pattern, never the
// path: a share link's path is its secret token.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.Info("request", "method", r.Method, "route", r.Pattern, "status", rec.status,
			"sub", rec.sub, "duration_ms", time.Since(start).Milliseconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	sub    string // set by requireSubject
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// assetJSON is an asset as the API shows it.
type assetJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Department string    `json:"department"`
	Owner      string    `json:"owner"`
	Path       string    `json:"path"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func toJSON(a *Asset) assetJSON {
	return assetJSON{ID: a.ID, Name: a.Name, Department: a.Department, Owner: a.Owner, Path: a.Path,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// resourceMap is what a policy sees of an asset (CONTRACT §5), and its
// path, which a temporary key's dir_scope is matched against (§6).
func resourceMap(a *Asset) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "department": a.Department, "owner": a.Owner, "path": a.Path}
}

// caller is the authenticated subject of a request.
type caller struct {
	claims map[string]any
	sub    string
	groups []string
	// key: the caller is an API key (sub is the key's id) or a temporary
	// key (sub is its template's id). A key is decided by its permissions
	// (and a temporary key by its dir_scope) alone, through the guard's
	// Decide: ownership and ACLs are for people and service accounts
	// (CONTRACT §6).
	key bool
	// temporary: the caller is a temporary key.
	temporary bool
	// owner is whom an asset the caller creates belongs to: the token's
	// sub, an API key's id, and for a temporary key the API key that
	// minted it (the backend that handed it out), or its template's id for
	// a console test key, which no API key minted.
	owner string
}

func callerFrom(ctx context.Context) caller {
	claims, _ := attributes.SubjectFrom(ctx)
	c := caller{claims: claims, temporary: attributes.IsTemporaryKey(claims)}
	c.key = c.temporary || attributes.IsAPIKey(claims)
	c.sub, _ = claims["sub"].(string)
	c.owner = c.sub
	if minter, _ := claims["api_key"].(string); c.temporary && minter != "" {
		c.owner = minter
	}
	if list, ok := claims["groups"].([]any); ok {
		for _, g := range list {
			if name, ok := g.(string); ok {
				c.groups = append(c.groups, name)
			}
		}
	}
	return c
}

// allowed is the permission rule: the owner may do anything; the ACL grants
// the permission matching the action to the subject or one of its groups;
// otherwise a realm policy must allow it. An API key skips the first two:
// the guard allows it exactly what its permissions name, even on an asset
// it created.
func (s *server) allowed(ctx context.Context, c caller, a *Asset, action string) (bool, error) {
	if c.key {
		return s.decide(ctx, c, action, resourceMap(a))
	}
	if c.sub != "" && a.Owner == c.sub {
		return true, nil
	}
	if perm := permissionFor(action); perm != "" && c.sub != "" {
		ok, err := s.store.Granted(ctx, a.ID, c.sub, c.groups, perm)
		if err != nil {
			return false, storeError{err}
		}
		if ok {
			return true, nil
		}
	}
	return s.decide(ctx, c, action, resourceMap(a))
}

// decide asks the guard: the realm's policies for people and service
// accounts, the key's permissions for an API key.
func (s *server) decide(ctx context.Context, c caller, action string, resource map[string]any) (bool, error) {
	d, err := s.guard.Decide(ctx, c.claims, resourceType, action, resource)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

// denied answers 403 for action. A key is told which permission it lacks,
// or that the asset is outside its dir_scope; anyone else gets detail.
func denied(w http.ResponseWriter, c caller, action, detail string) {
	switch {
	case c.temporary && attributes.KeyAllows(c.claims, resourceType, action):
		detail = "the asset's path is outside the temporary key's dir_scope"
	case c.temporary:
		detail = "the temporary key lacks the permission " + resourceType + ":" + action
	case c.key:
		detail = "the API key lacks the permission " + resourceType + ":" + action
	}
	writeProblem(w, &problem{Status: http.StatusForbidden, Detail: detail})
}

// authorized loads the asset named in the path and checks action on it;
// it answers 404, 403 or 500 itself and returns nil then.
func (s *server) authorized(w http.ResponseWriter, r *http.Request, action string) (*Asset, caller) {
	c := callerFrom(r.Context())
	a, err := s.store.GetAsset(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such asset"})
		return nil, c
	}
	if err != nil {
		s.internal(w, "loading an asset", err)
		return nil, c
	}
	ok, err := s.allowed(r.Context(), c, a, action)
	var se storeError
	if errors.As(err, &se) {
		s.internal(w, "reading an ACL", se.err)
		return nil, c
	}
	if err != nil {
		s.unavailable(w, err)
		return nil, c
	}
	if !ok {
		denied(w, c, action, "neither ownership, the asset's ACL nor a realm policy allows "+action+" on this asset")
		return nil, c
	}
	return a, c
}

type assetInput struct {
	Name       *string `json:"name"`
	Department *string `json:"department"`
	Path       *string `json:"path"`
}

// maxPathLen bounds an asset's path.
const maxPathLen = 1024

// checkPath validates a path: absolute, of clean segments, bounded. A
// dir_scope decision is only as good as the path it reads, so "." and ".."
// segments, empty segments and a trailing slash are refused rather than
// cleaned.
func checkPath(v *string, errs *[]fieldError) {
	if v == nil {
		return
	}
	p := *v
	switch {
	case !strings.HasPrefix(p, "/"):
		*errs = append(*errs, fieldError{"path", "must be an absolute path starting with /"})
		return
	case len(p) > maxPathLen:
		*errs = append(*errs, fieldError{"path", fmt.Sprintf("must be at most %d bytes", maxPathLen)})
		return
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		*errs = append(*errs, fieldError{"path", "must not contain control characters or backslashes"})
		return
	case p == "/":
		return
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			*errs = append(*errs, fieldError{"path", "must not contain empty, . or .. segments, nor end with /"})
			return
		}
	}
}

// checkText validates a name or department: required on create, non-empty
// when given, bounded.
func checkText(field string, v *string, required bool, errs *[]fieldError) {
	switch {
	case v == nil:
		if required {
			*errs = append(*errs, fieldError{field, "is required"})
		}
	case strings.TrimSpace(*v) == "":
		*errs = append(*errs, fieldError{field, "must not be empty"})
	case len(*v) > maxNameLen:
		*errs = append(*errs, fieldError{field, fmt.Sprintf("must be at most %d bytes", maxNameLen)})
	}
}

func (s *server) createAsset(w http.ResponseWriter, r *http.Request) {
	var in assetInput
	if !decode(w, r, &in) {
		return
	}
	var errs []fieldError
	checkText("name", in.Name, true, &errs)
	checkText("department", in.Department, true, &errs)
	checkPath(in.Path, &errs)
	if len(errs) > 0 {
		writeProblem(w, badRequest(errs...))
		return
	}
	path := "/"
	if in.Path != nil {
		path = *in.Path
	}
	c := callerFrom(r.Context())
	// Creating is for the realm's policies alone (or a key's permissions
	// and scope): there is no owner or ACL yet. They see the asset to be.
	ok, err := s.decide(r.Context(), c, "create",
		map[string]any{"name": *in.Name, "department": *in.Department, "owner": c.owner, "path": path})
	if err != nil {
		s.unavailable(w, err)
		return
	}
	if !ok {
		denied(w, c, "create", "no realm policy allows create on this asset")
		return
	}
	a, err := s.store.CreateAsset(r.Context(), *in.Name, *in.Department, path, c.owner)
	if err != nil {
		s.internal(w, "creating an asset", err)
		return
	}
	w.Header().Set("Location", "/assets/"+a.ID)
	writeJSON(w, http.StatusCreated, toJSON(a))
}

func (s *server) listAssets(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	all, err := s.store.ListAssets(r.Context())
	if err != nil {
		s.internal(w, "listing assets", err)
		return
	}
	items := []assetJSON{}
	if c.key && !c.temporary {
		// An API key's permissions do not depend on the asset: one
		// decision says whether it may read all of them or none (not even
		// those it created). A temporary key's scope does, so it is
		// decided per asset below.
		ok, err := s.decide(r.Context(), c, "read", nil)
		if err != nil {
			s.unavailable(w, err)
			return
		}
		if ok {
			for i := range all {
				items = append(items, toJSON(&all[i]))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
		return
	}
	granted, err := s.store.GrantedAssets(r.Context(), c.sub, c.groups, PermRead)
	if err != nil {
		s.internal(w, "reading ACLs", err)
		return
	}
	for i := range all {
		a := &all[i]
		ok := !c.key && (a.Owner == c.sub || granted[a.ID])
		if !ok {
			if ok, err = s.decide(r.Context(), c, "read", resourceMap(a)); err != nil {
				s.unavailable(w, err)
				return
			}
		}
		if ok {
			items = append(items, toJSON(a))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *server) getAsset(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "read")
	if a == nil {
		return
	}
	writeJSON(w, http.StatusOK, toJSON(a))
}

func (s *server) patchAsset(w http.ResponseWriter, r *http.Request) {
	a, c := s.authorized(w, r, "write")
	if a == nil {
		return
	}
	var in assetInput
	if !decode(w, r, &in) {
		return
	}
	var errs []fieldError
	checkText("name", in.Name, false, &errs)
	checkText("department", in.Department, false, &errs)
	checkPath(in.Path, &errs)
	if in.Name == nil && in.Department == nil && in.Path == nil {
		errs = append(errs, fieldError{"name", "name, department or path is required"})
	}
	if len(errs) > 0 {
		writeProblem(w, badRequest(errs...))
		return
	}
	name, dept, path := "", "", ""
	if in.Name != nil {
		name = *in.Name
	}
	if in.Department != nil {
		dept = *in.Department
	}
	if in.Path != nil {
		path = *in.Path
	}
	// Moving an asset to another department or path is creating it there:
	// the realm's policies (a key's permissions and scope) must allow
	// "create" for the asset as it would be, whoever asks (owner and ACL
	// grantees included); otherwise creating where one may and moving
	// would get round the create rule.
	if dept != "" && dept != a.Department || path != "" && path != a.Path {
		moved := *a
		if dept != "" {
			moved.Department = dept
		}
		if path != "" {
			moved.Path = path
		}
		ok, err := s.decide(r.Context(), c, "create", resourceMap(&moved))
		if err != nil {
			s.unavailable(w, err)
			return
		}
		if !ok {
			denied(w, c, "create", "moving the asset to department "+strconv.Quote(moved.Department)+
				" and path "+strconv.Quote(moved.Path)+" needs the create permission there")
			return
		}
	}
	updated, err := s.store.UpdateAsset(r.Context(), a, name, dept, path)
	if errors.Is(err, errNotFound) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such asset"})
		return
	}
	if errors.Is(err, errChanged) {
		writeProblem(w, &problem{Status: http.StatusConflict, Detail: "the asset changed while this request was checked; try again"})
		return
	}
	if err != nil {
		s.internal(w, "updating an asset", err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(updated))
}

func (s *server) deleteAsset(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "delete")
	if a == nil {
		return
	}
	if err := s.store.DeleteAsset(r.Context(), a.ID); err != nil && !errors.Is(err, errNotFound) {
		s.internal(w, "deleting an asset", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// aclEntryJSON is one ACL entry in requests and answers: exactly one of
// user (a token sub) and group (a group name, as tokens carry them).
type aclEntryJSON struct {
	User        *string  `json:"user,omitempty"`
	Group       *string  `json:"group,omitempty"`
	Permissions []string `json:"permissions"`
}

type aclJSON struct {
	Entries []aclEntryJSON `json:"entries"`
}

func aclToJSON(entries []ACLEntry) aclJSON {
	out := aclJSON{Entries: []aclEntryJSON{}}
	for _, e := range entries {
		p := e.Principal
		j := aclEntryJSON{Permissions: strings.Split(e.Permissions, ",")}
		if e.Kind == "group" {
			j.Group = &p
		} else {
			j.User = &p
		}
		out.Entries = append(out.Entries, j)
	}
	return out
}

// validPermissions is the order permissions are stored and shown in.
var validPermissions = []string{PermRead, PermWrite, PermDelete}

// checkACL validates an ACL body and turns it into entries. Each entry
// names exactly one principal and a non-empty set of READ, WRITE and
// DELETE; a principal may appear once. An ACL cannot grant manage: only
// the owner and the realm's policies can.
func checkACL(in aclJSON) ([]ACLEntry, []fieldError) {
	var errs []fieldError
	if in.Entries == nil {
		return nil, []fieldError{{"entries", "is required (an empty list clears the ACL)"}}
	}
	if len(in.Entries) > 1000 {
		return nil, []fieldError{{"entries", "must have at most 1000 entries"}}
	}
	seen := map[string]bool{}
	var out []ACLEntry
	for i, e := range in.Entries {
		field := fmt.Sprintf("entries[%d]", i)
		var kind, principal string
		switch {
		case (e.User == nil) == (e.Group == nil):
			errs = append(errs, fieldError{field, "must name exactly one of user and group"})
			continue
		case e.User != nil:
			kind, principal = "user", *e.User
		default:
			kind, principal = "group", *e.Group
		}
		if strings.TrimSpace(principal) == "" || len(principal) > 255 {
			errs = append(errs, fieldError{field + "." + kind, "must be 1 to 255 bytes"})
			continue
		}
		if seen[kind+"\x00"+principal] {
			errs = append(errs, fieldError{field + "." + kind, "appears in more than one entry"})
			continue
		}
		seen[kind+"\x00"+principal] = true
		if len(e.Permissions) == 0 {
			errs = append(errs, fieldError{field + ".permissions", "must name at least one of READ, WRITE, DELETE"})
			continue
		}
		set := map[string]bool{}
		bad := false
		for j, p := range e.Permissions {
			if !slices.Contains(validPermissions, p) {
				errs = append(errs, fieldError{fmt.Sprintf("%s.permissions[%d]", field, j), "must be READ, WRITE or DELETE, not " + fmt.Sprintf("%q", p)})
				bad = true
			}
			set[p] = true
		}
		if bad {
			continue
		}
		var perms []string
		for _, p := range validPermissions {
			if set[p] {
				perms = append(perms, p)
			}
		}
		out = append(out, ACLEntry{Kind: kind, Principal: principal, Permissions: strings.Join(perms, ",")})
	}
	return out, errs
}

func (s *server) getACL(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "manage")
	if a == nil {
		return
	}
	entries, err := s.store.ACL(r.Context(), a.ID)
	if err != nil {
		s.internal(w, "reading an ACL", err)
		return
	}
	writeJSON(w, http.StatusOK, aclToJSON(entries))
}

func (s *server) putACL(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "manage")
	if a == nil {
		return
	}
	var in aclJSON
	if !decode(w, r, &in) {
		return
	}
	entries, errs := checkACL(in)
	if len(errs) > 0 {
		writeProblem(w, badRequest(errs...))
		return
	}
	if err := s.store.SetACL(r.Context(), a.ID, entries); err != nil {
		if errors.Is(err, errNotFound) {
			writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such asset"})
			return
		}
		s.internal(w, "replacing an ACL", err)
		return
	}
	stored, err := s.store.ACL(r.Context(), a.ID)
	if err != nil {
		s.internal(w, "reading an ACL", err)
		return
	}
	writeJSON(w, http.StatusOK, aclToJSON(stored))
}

type shareInput struct {
	ExpiresInSeconds *int64 `json:"expires_in_seconds"`
	MaxUses          *int   `json:"max_uses"`
}

// shareJSON is a share link as its managers see it. URL is shown only in
// the answer that creates the link: only the token's hash is kept.
type shareJSON struct {
	ID        string     `json:"id"`
	AssetID   string     `json:"asset_id"`
	URL       string     `json:"url,omitempty"`
	ExpiresAt time.Time  `json:"expires_at"`
	MaxUses   int        `json:"max_uses"`
	Uses      int        `json:"uses"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

func shareToJSON(sh *Share) shareJSON {
	out := shareJSON{ID: sh.ID, AssetID: sh.AssetID, ExpiresAt: sh.ExpiresAt.UTC(), MaxUses: sh.MaxUses, Uses: sh.Uses,
		Revoked: sh.RevokedAt != nil, CreatedBy: sh.CreatedBy, CreatedAt: sh.CreatedAt.UTC()}
	if sh.RevokedAt != nil {
		t := sh.RevokedAt.UTC()
		out.RevokedAt = &t
	}
	return out
}

func (s *server) createShare(w http.ResponseWriter, r *http.Request) {
	if callerFrom(r.Context()).temporary {
		// A share link would outlive the key and escape its address,
		// country and rate rules: a temporary key may use what it can
		// reach, not hand it on.
		writeProblem(w, &problem{Status: http.StatusForbidden,
			Detail: "a temporary key cannot create share links: a link would outlive the key and its rules"})
		return
	}
	a, c := s.authorized(w, r, "manage")
	if a == nil {
		return
	}
	var in shareInput
	if !decode(w, r, &in) {
		return
	}
	var errs []fieldError
	maxSeconds := int64(maxShareTTL / time.Second)
	if in.ExpiresInSeconds == nil {
		errs = append(errs, fieldError{"expires_in_seconds", "is required"})
	} else if *in.ExpiresInSeconds < 1 || *in.ExpiresInSeconds > maxSeconds {
		errs = append(errs, fieldError{"expires_in_seconds", fmt.Sprintf("must be between 1 and %d (30 days)", maxSeconds)})
	}
	maxUses := 0
	if in.MaxUses != nil {
		if *in.MaxUses < 0 {
			errs = append(errs, fieldError{"max_uses", "must be 0 (no limit) or more"})
		}
		maxUses = *in.MaxUses
	}
	if len(errs) > 0 {
		writeProblem(w, badRequest(errs...))
		return
	}
	sh, token, err := s.store.CreateShare(r.Context(), a.ID, c.sub, time.Duration(*in.ExpiresInSeconds)*time.Second, maxUses)
	if errors.Is(err, errNotFound) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such asset"})
		return
	}
	if err != nil {
		s.internal(w, "creating a share link", err)
		return
	}
	out := shareToJSON(sh)
	out.URL = s.publicURL + "/shares/" + token
	w.Header().Set("Location", "/assets/"+a.ID+"/shares/"+sh.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (s *server) getShare(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "manage")
	if a == nil {
		return
	}
	sh, err := s.store.GetShare(r.Context(), a.ID, r.PathValue("share_id"))
	if errors.Is(err, errNotFound) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such share link"})
		return
	}
	if err != nil {
		s.internal(w, "reading a share link", err)
		return
	}
	writeJSON(w, http.StatusOK, shareToJSON(sh))
}

func (s *server) revokeShare(w http.ResponseWriter, r *http.Request) {
	a, _ := s.authorized(w, r, "manage")
	if a == nil {
		return
	}
	err := s.store.RevokeShare(r.Context(), a.ID, r.PathValue("share_id"))
	if errors.Is(err, errNotFound) {
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such share link"})
		return
	}
	if err != nil {
		s.internal(w, "revoking a share link", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// openShare serves the asset behind a link, without a token. An unknown
// token is 404; a link that expired, was revoked or has no uses left is
// 410. Each successful open counts one use.
func (s *server) openShare(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	a, err := s.store.OpenShare(r.Context(), r.PathValue("token"))
	switch {
	case errors.Is(err, errNotFound):
		writeProblem(w, &problem{Status: http.StatusNotFound, Detail: "no such share link"})
	case errors.Is(err, errGone):
		writeProblem(w, &problem{Status: http.StatusGone, Detail: "the share link has expired, was revoked or has been used up"})
	case err != nil:
		s.internal(w, "opening a share link", err)
	default:
		writeJSON(w, http.StatusOK, toJSON(a))
	}
}

// --- answers ---------------------------------------------------------------

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problem is an RFC 9457 problem document, shaped like Ward's and the
// guard's.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []fieldError `json:"errors,omitempty"`
}

var problemTypes = map[int]string{
	http.StatusBadRequest:            "urn:ward:problem:bad-request",
	http.StatusForbidden:             "urn:ward:problem:forbidden",
	http.StatusNotFound:              "urn:ward:problem:not-found",
	http.StatusConflict:              "urn:ward:problem:conflict",
	http.StatusGone:                  "urn:ward:problem:gone",
	http.StatusRequestEntityTooLarge: "urn:ward:problem:too-large",
	http.StatusUnsupportedMediaType:  "urn:ward:problem:unsupported-media-type",
	http.StatusInternalServerError:   "urn:ward:problem:internal",
	http.StatusServiceUnavailable:    "urn:ward:problem:unavailable",
}

func badRequest(errs ...fieldError) *problem {
	return &problem{Status: http.StatusBadRequest, Detail: "the request has invalid fields", Errors: errs}
}

func writeProblem(w http.ResponseWriter, p *problem) {
	if p.Type == "" {
		p.Type = problemTypes[p.Status]
		if p.Type == "" {
			p.Type = "about:blank"
		}
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// internal logs the error (never shown to the caller: it may hold SQL) and
// answers 500.
func (s *server) internal(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	writeProblem(w, &problem{Status: http.StatusInternalServerError})
}

// storeError is a database failure inside a permission check (500), as
// opposed to a guard that cannot decide (503).
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// unavailable is a guard that cannot decide (closed while shutting down).
func (s *server) unavailable(w http.ResponseWriter, err error) {
	s.log.Warn("the guard cannot decide", "err", err)
	writeProblem(w, &problem{Status: http.StatusServiceUnavailable, Detail: "permissions cannot be checked right now"})
}

// decode reads a JSON body strictly: application/json, at most 1 MiB, no
// unknown fields, nothing after the object. On failure it has answered.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(w, &problem{Status: http.StatusUnsupportedMediaType, Detail: "the body must be application/json"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			writeProblem(w, badRequest(fieldError{"body", "must be one JSON object"}))
			return false
		}
		return true
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		writeProblem(w, &problem{Status: http.StatusRequestEntityTooLarge, Detail: "the body is larger than 1 MiB"})
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		writeProblem(w, badRequest(fieldError{field, "must be " + jsonKind(typeErr.Type)}))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeProblem(w, badRequest(fieldError{name, "is not a known field"}))
	default:
		writeProblem(w, badRequest(fieldError{"body", "is not valid JSON"}))
	}
	return false
}

// jsonKind names a Go type as JSON calls it, for error messages.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}
