package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
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

// NewChecker builds a Checker fetching with client (nil: a client with a
// 10 s timeout).
func NewChecker(client *http.Client) *Checker {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
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

// OIDCDiscovery reads issuer's discovery document; go-oidc checks that it
// names the same issuer.
func (c *Checker) OIDCDiscovery(ctx context.Context, issuer string) error {
	if _, err := oidc.NewProvider(oidc.ClientContext(ctx, c.client), issuer); err != nil {
		return fmt.Errorf("the OpenID Connect discovery document of %s could not be used: %w", issuer, err)
	}
	return nil
}

// fetch GETs url, refusing an answer other than 200 or longer than max.
func (c *Checker) fetch(ctx context.Context, url string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
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
