// Package broker signs people in through their organization's identity
// provider (CONTRACT §9): SAML 2.0, with crewjam/saml as the service
// provider, and OpenID Connect, with go-oidc and x/oauth2 as the relying
// party, at Keycloak's paths (/realms/{realm}/broker/{alias}/endpoint and
// …/endpoint/descriptor). It checks the provider's answer — signature,
// audience, issuer, time window and replay (SAML InResponseTo, OIDC state,
// nonce and PKCE) — and hands what it says about the person to
// realm.IdentityProviders.SignIn; the login page (Pages) then starts the
// browser session and continues the authorization request, exactly as after
// a password.
//
// It does not decide who the person becomes (realm does), render the login
// page (oauth/login does, with a button per provider) or keep anything in
// memory that another node would need: a sign-in in flight is a database row
// (realm.BrokerState), bound to the browser by a cookie.
package broker
