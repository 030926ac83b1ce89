package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/wardiam/ward/realm"
)

// Checker reads a provider's metadata or discovery document when an admin
// saves it (realm.IdPChecker). Its errors say what is wrong in words an
// admin can act on.
type Checker struct {
	client *http.Client
}

// NewChecker builds a Checker fetching with client (nil: NewClient(false),
// which reaches public addresses only).
func NewChecker(client *http.Client) *Checker {
	if client == nil {
		client = NewClient(false)
	}
	return &Checker{client: client}
}

var _ realm.IdPChecker = (*Checker)(nil)

// SAMLMetadata reads the metadata (from metadataURL when set) and checks
// that it describes an identity provider Ward can use.
func (c *Checker) SAMLMetadata(ctx context.Context, metadataURL, metadataXML string) (string, error) {
	data := []byte(metadataXML)
	if metadataURL != "" {
		var err error
		if data, err = c.fetch(ctx, metadataURL, realm.MaxSAMLMetadataBytes); err != nil {
			return "", fmt.Errorf("the metadata could not be read from %s: %w", metadataURL, err)
		}
	}
	if _, err := parseIDPMetadata(data); err != nil {
		return "", err
	}
	return string(data), nil
}

// parseIDPMetadata parses metadata and checks it has what a sign-in needs:
// a single sign-on endpoint Ward can send a request to, and a signing
// certificate to check assertions with.
func parseIDPMetadata(data []byte) (*saml.EntityDescriptor, error) {
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("the metadata is not valid SAML metadata: %w", err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("the metadata describes no identity provider (no IDPSSODescriptor)")
	}
	if ed.EntityID == "" {
		return nil, errors.New("the metadata has no entityID")
	}
	sso, certs := false, false
	for _, d := range ed.IDPSSODescriptors {
		for _, e := range d.SingleSignOnServices {
			if e.Binding == saml.HTTPRedirectBinding || e.Binding == saml.HTTPPostBinding {
				sso = true
			}
		}
		for _, k := range d.KeyDescriptors {
			if (k.Use == "" || k.Use == "signing") && len(k.KeyInfo.X509Data.X509Certificates) > 0 {
				certs = true
			}
		}
	}
	if !sso {
		return nil, errors.New("the metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")
	}
	if !certs {
		return nil, errors.New("the metadata has no signing certificate, so assertions could not be checked")
	}
	return ed, nil
}

// OIDCDiscovery reads issuer's discovery document and checks that it
// names the same issuer and the endpoints a sign-in needs. The document
// is read here rather than by go-oidc, whose errors quote the answer's
// body: an error shown to an admin must not relay what some server said.
func (c *Checker) OIDCDiscovery(ctx context.Context, issuer string) error {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	data, err := c.fetch(ctx, u, 1<<20)
	if err != nil {
		return fmt.Errorf("the OpenID Connect discovery document of %s could not be read: %w", issuer, err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
		Auth   string `json:"authorization_endpoint"`
		Token  string `json:"token_endpoint"`
		JWKS   string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("the OpenID Connect discovery document of %s is not valid JSON", issuer)
	}
	switch {
	case doc.Issuer != issuer:
		return fmt.Errorf("the OpenID Connect discovery document of %s names another issuer; the issuer must be given exactly as the provider names itself", issuer)
	case doc.Auth == "" || doc.Token == "" || doc.JWKS == "":
		return fmt.Errorf("the OpenID Connect discovery document of %s lacks authorization_endpoint, token_endpoint or jwks_uri", issuer)
	}
	return nil
}

// fetch GETs url, refusing an answer other than 200 or longer than max.
func (c *Checker) fetch(ctx context.Context, rawURL string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the caller's message already
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("it answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("it is larger than %d bytes", max)
	}
	return data, nil
}
