package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Policy distribution (CONTRACT §5): GET /realms/{realm}/policies serves the
// realm's policies to its resource servers, which evaluate them offline
// with the attributes Guard and poll this endpoint with If-None-Match.
//
// The caller presents an access token of an active client of the realm,
// obtained with client_credentials: the rules are the realm's, and a
// resource server asks as itself. A user's token (issued to an application
// on a person's behalf, often held by a browser) is refused with 403
// insufficient_scope: it is valid, but not for this. Nothing is cached
// across requests; one read of the policies and definitions per poll is
// cheap, and a cache would have to be invalidated on every node.

const pathPolicies = "/policies"

// distributedPolicy is one policy as served. Every field is always present,
// so a resource server needs no defaults.
type distributedPolicy struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	ResourceType string   `json:"resource_type"`
	Actions      []string `json:"actions"`
	Condition    string   `json:"condition"`
}

type policiesDocument struct {
	Policies []distributedPolicy `json:"policies"`
	// DeactivatedAPIKeys are the API keys whose temporary keys resource
	// servers must refuse (CONTRACT §6): those deactivated recently enough
	// that a key they minted may still be alive.
	DeactivatedAPIKeys []string `json:"deactivated_api_keys"`
	// RefuseMintedUntil is set only when there were too many to list: a
	// Guard refuses every temporary key issued at or before it (seconds
	// since the epoch), whichever API key minted it.
	RefuseMintedUntil *int64 `json:"refuse_temporary_keys_issued_until,omitempty"`
	// IPAllowLists are the realm's list and its groups' lists by group
	// name (CONTRACT §7), which guards apply to every request.
	IPAllowLists ipAllowLists `json:"ip_allow_lists"`
}

type ipAllowLists struct {
	Realm  []string            `json:"realm"`
	Groups map[string][]string `json:"groups"`
}

func (s *Server) handlePolicies(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	p, _, err := s.resourceServerCall(c)
	if p == nil {
		return err
	}
	policies, err := s.service.DistributedPolicies(ctx, p.realm.ID)
	if err != nil {
		s.logServerError(ctx, p, "policies", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The policies cannot be read right now.")
	}
	deactivated, err := s.service.DeactivatedAPIKeys(ctx, p.realm.ID)
	if err != nil {
		s.logServerError(ctx, p, "policies", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The policies cannot be read right now.")
	}
	realmList, groupLists, err := s.store.NetworkLists(ctx, p.realm.ID)
	if err != nil {
		s.logServerError(ctx, p, "policies", err)
		return writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The policies cannot be read right now.")
	}
	if groupLists == nil {
		groupLists = map[string][]string{}
	}
	doc := policiesDocument{Policies: make([]distributedPolicy, len(policies)), DeactivatedAPIKeys: deactivated.IDs,
		IPAllowLists: ipAllowLists{Realm: realmList, Groups: groupLists}}
	if deactivated.MintedUntil != nil {
		until := deactivated.MintedUntil.Unix()
		doc.RefuseMintedUntil = &until
	}
	for i, pol := range policies {
		actions := pol.Actions
		if actions == nil {
			actions = []string{}
		}
		doc.Policies[i] = distributedPolicy{Name: pol.Name, Description: pol.Description,
			ResourceType: pol.ResourceType, Actions: actions, Condition: pol.Condition}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	// A strong validator from the exact bytes served: equal tags mean equal
	// bodies, on every node.
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
	h := c.Response().Header()
	h.Set("ETag", etag)
	// Resource servers must revalidate each time (cheap with the ETag), so
	// a changed policy reaches them at their next poll.
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Authorization")
	if etagMatches(req.Header.Values("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(http.StatusOK, body)
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110
// §13.1.2): "*" or any listed tag whose opaque part equals ours.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}
