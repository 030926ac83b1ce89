package oauth

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/http/httpguts"

	"github.com/wardiam/ward/attributes"
	"github.com/wardiam/ward/realm"
)

// Refusals reported by guards (CONTRACT §7: a refusal is an audit event).
// The Guard applies the realm's IP allow lists to every request a resource
// server receives, in that server's process; it reports what it refused to
// POST /realms/{realm}/network-refusals, as the same client that fetches
// the policies, and Ward records each as a network.refused event with
// "at": "guard", as it records its own refusals. The answer is JSON with
// problem errors, like temporary-key minting's.

const (
	pathNetworkRefusals = "/network-refusals"
	// maxRefusalsBody bounds the body: 100 refusals of at most ~1.3 KB.
	maxRefusalsBody = 160 << 10
)

// refusalReportRate bounds one client's reports on one node: a Guard sends
// at most one a second, and a client that is not a Guard (any client of
// the realm may call) can add at most 200 events a second to the log.
var refusalReportRate = RateLimit{Rate: 2, Burst: 10}

// reportedTargets maps a reported kind to the event's target type.
var reportedTargets = map[string]string{
	"user": "user", "service_account": "client", "api_key": "api_key", "temporary_key": "api_key",
}

func (s *Server) handleNetworkRefusals(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	p, cl, err := s.resourceServerCall(c)
	if p == nil {
		return err
	}
	if wait := s.refusalReports.Wait(p.realm.ID+"/"+cl.ClientID, s.clock()); wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return writeProblem(c, http.StatusTooManyRequests, "rate-limited", "too many refusal reports from this client; send them at most once a second")
	}
	report, prob := readRefusalReport(req)
	if prob != nil {
		return writeProblem(c, prob.status, prob.kind, prob.detail, prob.fields...)
	}
	now := s.clock().UTC()
	events := make([]*realm.Event, 0, len(report.Refusals))
	for i, r := range report.Refusals {
		details := map[string]any{"address": r.Address, "at": "guard", "method": r.Method, "path": r.Path,
			"refused_at": r.Time.UTC().Format(time.RFC3339Nano)}
		if r.Country != nil {
			details["country"] = *r.Country
		}
		if i == 0 && report.Unreported > 0 {
			details["unreported_before"] = report.Unreported
		}
		events = append(events, &realm.Event{ID: realm.NewID(now, nil), OrgID: p.realm.OrgID, RealmID: p.realm.ID,
			Type: realm.EventNetworkRefused, ActorType: "client", ActorID: cl.ClientID,
			TargetType: reportedTargets[r.Kind], TargetID: r.Subject, Details: details, Time: now})
	}
	err = s.store.InTx(ctx, func(tx realm.Store) error {
		for _, e := range events {
			if err := tx.AppendEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.logServerError(ctx, p, "network refusals", err)
		return writeProblem(c, http.StatusServiceUnavailable, "unavailable", "the refusals cannot be recorded right now")
	}
	return c.NoContent(http.StatusNoContent)
}

// resourceServerCall authenticates a resource server's call: the access
// token of an active client of the realm, its own (client_credentials). A
// user's token is valid but not for this (403 insufficient_scope). p is
// nil when the answer has been written (err is the write's).
func (s *Server) resourceServerCall(c echo.Context) (*provider, *AccessClaims, error) {
	ctx := c.Request().Context()
	p, token, err := s.bearerCall(c)
	if p == nil {
		return nil, nil, err
	}
	cl, _, err := p.verifyActive(ctx, token)
	if err != nil {
		if !isTokenRejection(err) {
			s.logServerError(ctx, p, "resource server call", err)
			return nil, nil, writeError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The token cannot be checked right now.")
		}
		return nil, nil, bearerError(c, http.StatusUnauthorized, "invalid_token", "The access token is invalid or has expired.")
	}
	if cl.Kind == "user" || cl.Subject != cl.ClientID {
		return nil, nil, bearerError(c, http.StatusForbidden, "insufficient_scope", "This endpoint serves a realm's clients' own tokens (client_credentials), not users' tokens.")
	}
	return p, cl, nil
}

// readRefusalReport reads and checks a report: JSON, no unknown field, at
// most attributes.MaxRefusalsPerReport, each field valid text within its bound.
func readRefusalReport(req *http.Request) (*attributes.NetworkRefusalReport, *requestProblem) {
	var in attributes.NetworkRefusalReport
	typeErr, malformed, p := readJSONBody(req, maxRefusalsBody, &in)
	switch {
	case p != nil:
		return nil, p
	case typeErr != nil:
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "validation", detail: "the request has invalid fields",
			fields: []realm.FieldError{{Field: typeErr.Field, Message: "has the wrong type"}}}
	case malformed:
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "malformed-request",
			detail: `the body must be one JSON object {"refusals": [...], "unreported": number} with no other field`}
	}
	v := &realm.ValidationError{}
	switch {
	case len(in.Refusals) == 0:
		v.Add("refusals", "must list at least one refusal")
	case len(in.Refusals) > attributes.MaxRefusalsPerReport:
		v.Add("refusals", fmt.Sprintf("must list at most %d refusals; send more in several reports", attributes.MaxRefusalsPerReport))
	}
	if in.Unreported < 0 || in.Unreported > attributes.MaxUnreported {
		v.Add("unreported", fmt.Sprintf("must be a count from 0 to %d", attributes.MaxUnreported))
	}
	for i, r := range in.Refusals {
		checkReportedRefusal(v, fmt.Sprintf("refusals[%d].", i), r)
	}
	if err := v.OrNil(); err != nil {
		return nil, &requestProblem{status: http.StatusBadRequest, kind: "validation", detail: "the request has invalid fields", fields: v.Listed()}
	}
	return &in, nil
}

func checkReportedRefusal(v *realm.ValidationError, field string, r attributes.NetworkRefusal) {
	if r.Address != "" {
		if a, err := netip.ParseAddr(r.Address); err != nil || a.Zone() != "" {
			v.Add(field+"address", "must be an IPv4 or IPv6 address, or empty when unknown")
		}
	}
	if c := r.Country; c != nil && *c != "" && !isCountryCode(*c) {
		v.Add(field+"country", "must be a two-letter ISO 3166-1 code in capitals, or empty")
	}
	if _, ok := reportedTargets[r.Kind]; !ok {
		v.Add(field+"kind", "must be one of user, service_account, api_key, temporary_key")
	}
	if len(r.Subject) > attributes.MaxReportedSubject || realm.TextProblem(r.Subject, false) != "" {
		v.Add(field+"subject", fmt.Sprintf("must be the refused caller's sub: at most %d bytes of text", attributes.MaxReportedSubject))
	}
	// A method is a token, as a header field name is (RFC 9110 §9.1, §5.1).
	if len(r.Method) > attributes.MaxReportedMethod || !httpguts.ValidHeaderFieldName(r.Method) {
		v.Add(field+"method", fmt.Sprintf("must be an HTTP method: 1 to %d token characters", attributes.MaxReportedMethod))
	}
	if !strings.HasPrefix(r.Path, "/") || len(r.Path) > attributes.MaxReportedPath || realm.TextProblem(r.Path, false) != "" {
		v.Add(field+"path", fmt.Sprintf("must be the request's path: text starting with /, at most %d bytes", attributes.MaxReportedPath))
	}
	if t := r.Time.UTC(); t.Year() < 2000 || t.Year() > 9999 {
		v.Add(field+"time", "must be when the request was refused (RFC 3339)")
	}
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
