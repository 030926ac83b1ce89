package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/wardiam/ward/realm"
)

// Person tokens of the console realm (CONTRACT §3): a console member signs
// in through ward-console like any user, and the access token also names
// one of the member's orgs and the role held there, so the admin API can
// act for that org. The org is chosen at the authorization endpoint (scope
// org:SLUG, else the org joined first), kept in the stored session by ID,
// and its membership read again on every token grant, so a role change
// applies at the next refresh and a removed member's refresh fails.

// orgScopePrefix starts the scope that picks the org: "org:acme".
const orgScopePrefix = "org:"

// consoleScopeStrategy is the console realm's scope strategy: exact, plus
// any org:SLUG for a client that may ask for OpenID scopes (application
// clients such as ward-console; service accounts have no scopes and are
// bound to their one org anyway).
func consoleScopeStrategy(haystack []string, needle string) bool {
	if slug, ok := strings.CutPrefix(needle, orgScopePrefix); ok {
		return slug != "" && slices.Contains(haystack, "openid")
	}
	return fosite.ExactScopeStrategy(haystack, needle)
}

// chooseConsoleOrg returns the org ID a console sign-in acts for: the one
// named by the single org:SLUG scope if the user is a member of it, else
// the membership joined first. A user who is not a member of the named org
// (or of any) is access_denied; the answer is the same whether the org
// exists or not, so it does not tell which slugs exist. Two org scopes are
// invalid_scope: a token acts for one org at a time.
func (p *provider) chooseConsoleOrg(ctx context.Context, userID string, scopes fosite.Arguments) (string, error) {
	var slug string
	for _, sc := range scopes {
		if v, ok := strings.CutPrefix(sc, orgScopePrefix); ok {
			if slug != "" {
				return "", fosite.ErrInvalidScope.WithHint("Ask for one org:SLUG scope at a time.")
			}
			slug = v
		}
	}
	ms, err := p.s.store.ListMembershipsOfUser(ctx, userID)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	if len(ms) == 0 {
		return "", fosite.ErrAccessDenied.WithHint("The account is not a member of any organization.")
	}
	if slug == "" {
		return ms[0].OrgID, nil
	}
	org, err := p.s.store.GetOrgBySlug(ctx, slug)
	if errors.Is(err, realm.ErrNotFound) {
		return "", fosite.ErrAccessDenied.WithHint("The account is not a member of that organization.")
	}
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err)
	}
	for _, m := range ms {
		if m.OrgID == org.ID {
			return org.ID, nil
		}
	}
	return "", fosite.ErrAccessDenied.WithHint("The account is not a member of that organization.")
}

// consoleMembership reads user's current membership of orgID: nil (and no
// error) when there is none.
func (p *provider) consoleMembership(ctx context.Context, userID, orgID string) (*realm.Member, error) {
	ms, err := p.s.store.ListMembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].OrgID == orgID && orgID != "" {
			return &ms[i], nil
		}
	}
	return nil, nil
}

// consoleOrgClaims returns the org, org_id and role claims of a console
// person token from the membership as it is now. A user no longer a member
// gets no token (invalid_grant, as for a deactivated user).
func (p *provider) consoleOrgClaims(ctx context.Context, userID, orgID string) (map[string]any, error) {
	m, err := p.consoleMembership(ctx, userID, orgID)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err)
	}
	if m == nil || !m.Role.Valid() {
		return nil, fosite.ErrInvalidGrant.WithHint("The account is no longer a member of the organization.")
	}
	org, err := p.s.store.GetOrg(ctx, orgID)
	if errors.Is(err, realm.ErrNotFound) {
		return nil, fosite.ErrInvalidGrant.WithHint("The account is no longer a member of the organization.")
	}
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(fmt.Errorf("load org of member: %w", err))
	}
	return map[string]any{"org": org.Slug, "org_id": org.ID, "role": string(m.Role)}, nil
}
