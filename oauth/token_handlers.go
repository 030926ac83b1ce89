package oauth

import (
	"context"

	"github.com/ory/fosite"
)

// ownGrantOnly wraps a token endpoint handler so that it is asked to
// populate a response only for a grant it handles. fosite's NewAccessResponse
// asks every handler, and each that does not handle the grant answers
// errorsx.WithStack(ErrUnknownRequest), capturing a stack trace
// (runtime.Callers) only for fosite to drop it: four captures per
// client_credentials grant, a few percent of its CPU in profiles. The
// answer here is the same error without the trace; fosite's handlers all
// begin their PopulateTokenEndpointResponse with this same check (PKCE's
// does nothing at all), and fosite already checks it before
// HandleTokenEndpointRequest.
type ownGrantOnly struct{ fosite.TokenEndpointHandler }

func (h ownGrantOnly) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

// ownGrantsOnly wraps each of cfg's token endpoint handlers (after
// compose.Compose has registered them).
func ownGrantsOnly(cfg *fosite.Config) {
	for i, h := range cfg.TokenEndpointHandlers {
		cfg.TokenEndpointHandlers[i] = ownGrantOnly{h}
	}
}
