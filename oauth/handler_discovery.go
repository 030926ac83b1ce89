package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Paths under /realms/{realm}, Keycloak's, so existing clients work.
// oauth/login serves PathAuth and PathLogout.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathAuth       = "/protocol/openid-connect/auth"
	PathToken      = "/protocol/openid-connect/token"
	PathIntrospect = "/protocol/openid-connect/token/introspect"
	PathRevoke     = "/protocol/openid-connect/revoke"
	PathCerts      = "/protocol/openid-connect/certs"
	PathUserinfo   = "/protocol/openid-connect/userinfo"
	PathLogout     = "/protocol/openid-connect/logout"
)

// discoveryDocument is rendered once per cached provider.
func discoveryDocument(issuer string) ([]byte, error) {
	doc := struct {
		Issuer                                 string   `json:"issuer"`
		AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
		TokenEndpoint                          string   `json:"token_endpoint"`
		IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
		RevocationEndpoint                     string   `json:"revocation_endpoint"`
		UserinfoEndpoint                       string   `json:"userinfo_endpoint"`
		EndSessionEndpoint                     string   `json:"end_session_endpoint"`
		JWKSURI                                string   `json:"jwks_uri"`
		GrantTypesSupported                    []string `json:"grant_types_supported"`
		ResponseTypesSupported                 []string `json:"response_types_supported"`
		ResponseModesSupported                 []string `json:"response_modes_supported"`
		SubjectTypesSupported                  []string `json:"subject_types_supported"`
		IDTokenSigningAlgValuesSupported       []string `json:"id_token_signing_alg_values_supported"`
		ScopesSupported                        []string `json:"scopes_supported"`
		TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
		IntrospectionEndpointAuthMethods       []string `json:"introspection_endpoint_auth_methods_supported"`
		RevocationEndpointAuthMethods          []string `json:"revocation_endpoint_auth_methods_supported"`
		CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
		AuthorizationResponseIssParamSupported bool     `json:"authorization_response_iss_parameter_supported"`
		ClaimsSupported                        []string `json:"claims_supported"`
	}{
		Issuer:                                 issuer,
		AuthorizationEndpoint:                  issuer + PathAuth,
		TokenEndpoint:                          issuer + PathToken,
		IntrospectionEndpoint:                  issuer + PathIntrospect,
		RevocationEndpoint:                     issuer + PathRevoke,
		UserinfoEndpoint:                       issuer + PathUserinfo,
		EndSessionEndpoint:                     issuer + PathLogout,
		JWKSURI:                                issuer + PathCerts,
		GrantTypesSupported:                    supportedGrantTypes,
		ResponseTypesSupported:                 []string{"code"},
		ResponseModesSupported:                 []string{"query", "fragment", "form_post", "web_message"},
		SubjectTypesSupported:                  []string{"public"},
		IDTokenSigningAlgValuesSupported:       []string{AlgRS256, AlgES256},
		ScopesSupported:                        supportedScopes,
		TokenEndpointAuthMethodsSupported:      clientAuthMethods,
		IntrospectionEndpointAuthMethods:       clientAuthMethods,
		RevocationEndpointAuthMethods:          clientAuthMethods,
		CodeChallengeMethodsSupported:          []string{"S256"},
		AuthorizationResponseIssParamSupported: true,
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope",
			"groups", "attributes", "kind", "permissions", "email", "given_name", "family_name", "name"},
	}
	return json.Marshal(doc)
}

var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// supportedGrantTypes are the grants of CONTRACT §4.
var supportedGrantTypes = []string{"client_credentials", "authorization_code", "refresh_token", GrantTypeTokenExchange}

// The header values of publicJSON, made once: discovery and JWKS are the
// most requested documents, and Header.Set would canonicalise the names and
// allocate the values on every answer. Each slice has len == cap, so a
// later Header.Add copies rather than writes into it.
var (
	headerAnyOrigin = []string{"*"}
	// Short: keys rotate, and caches must pick up new ones soon.
	headerPublic60 = []string{"public, max-age=60"}
	headerJSONType = []string{"application/json"}
)

// publicJSON answers a document any origin may read (discovery, JWKS).
func publicJSON(c echo.Context, body []byte) error {
	w := c.Response()
	h := w.Header()
	// The names as Header.Set would canonicalise them.
	h["Access-Control-Allow-Origin"] = headerAnyOrigin
	h["Cache-Control"] = headerPublic60
	h["Content-Type"] = headerJSONType
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

func (s *Server) handleDiscovery(c echo.Context) error {
	p, err := s.providers.recent(c.Request().Context(), c.Param("realm"))
	if err != nil {
		return s.realmError(c, err)
	}
	return publicJSON(c, p.discovery)
}

func (s *Server) handleCerts(c echo.Context) error {
	p, err := s.providers.recent(c.Request().Context(), c.Param("realm"))
	if err != nil {
		return s.realmError(c, err)
	}
	return publicJSON(c, p.jwks)
}

// handlePublicPreflight lets browsers preflight discovery and JWKS.
func handlePublicPreflight(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	h.Set("Access-Control-Max-Age", "86400")
	return c.NoContent(http.StatusNoContent)
}
