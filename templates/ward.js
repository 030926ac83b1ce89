// ward.js: sign users in to a web application with a Ward login popup.
//
// Served by Ward at /realms/{realm}/ward.js as a plain ES module (no build
// step, no dependencies). Import it from Ward itself, so that it knows the
// realm and the origin its answers come from:
//
//   import { login } from "https://iam.example.com/realms/acme/ward.js";
//   const tokens = await login({ clientId: "web", redirectUri: "https://app.example.com/callback" });
//
// login() opens the realm's login page in a popup (authorization code flow
// with PKCE S256, state and, for openid, a nonce; response_mode=web_message).
// When the user has signed in, the popup posts the authorization response to
// this window and closes; login() accepts only a message from the popup at
// Ward's origin carrying this request's state, exchanges the code at the
// token endpoint and resolves with the token response. See docs/ward-js.md.

const moduleURL = new URL(import.meta.url);

/** The origin of the Ward server this module was loaded from. */
export const wardOrigin = moduleURL.origin;

/** The realm's issuer: …/realms/{realm}, where this module lives. */
export const issuer = new URL(".", moduleURL).href.replace(/\/$/, "");

const authorizationEndpoint = issuer + "/protocol/openid-connect/auth";
const tokenEndpoint = issuer + "/protocol/openid-connect/token";

/**
 * WardError is what login() rejects with. `error` is an OAuth 2.0 error code
 * from Ward ("access_denied" when the user cancels, "login_required", …)
 * or one of ward.js's own: "invalid_request" (bad options), "popup_blocked",
 * "popup_closed", "invalid_response", "network_error" (the token endpoint
 * could not be reached or its answer was withheld, e.g. by CORS).
 */
export class WardError extends Error {
  constructor(error, description) {
    super(description ? `ward: ${error}: ${description}` : `ward: ${error}`);
    this.name = "WardError";
    this.error = error;
    this.error_description = description || "";
  }
}

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function jwtPayload(jwt) {
  const part = String(jwt).split(".")[1] || "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

// openPopup opens a new window under a name of its own: a fixed name would
// make a second login() (another tab of the app, a double click) take over
// the first one's popup.
function openPopup(width, height) {
  const left = Math.max(0, (window.screenX || 0) + ((window.outerWidth || width) - width) / 2);
  const top = Math.max(0, (window.screenY || 0) + ((window.outerHeight || height) - height) / 2);
  return window.open("about:blank", "ward-login-" + randomString(12),
    `popup=yes,width=${width},height=${height},left=${Math.round(left)},top=${Math.round(top)}`);
}

/**
 * Signs the user in through a popup and resolves with the token response
 * (access_token, id_token, refresh_token, expires_in, token_type, scope).
 * Call it from a user gesture (a click), or the browser blocks the popup.
 *
 * @param {object} options
 * @param {string} options.clientId     the application's client_id
 * @param {string} options.redirectUri  a registered redirect URI whose origin is one of the client's web origins
 * @param {string} [options.scope]      default "openid"
 * @param {string} [options.prompt]     e.g. "none" (no login page: login_required unless signed in) or "login"
 * @param {string} [options.idpHint]    an identity provider's alias: sign in through it, skipping the login page (kc_idp_hint)
 * @returns {Promise<object>}
 */
export async function login({ clientId, redirectUri, scope = "openid", prompt, idpHint } = {}) {
  if (!clientId || !redirectUri) {
    throw new WardError("invalid_request", "login() needs clientId and redirectUri.");
  }
  // The popup posts its answer to the redirect URI's origin only: from any
  // other page it could never arrive, and the user would only see the
  // popup stay open. Say so at once instead.
  let redirectOrigin;
  try {
    redirectOrigin = new URL(redirectUri).origin;
  } catch {
    throw new WardError("invalid_request", `redirectUri ${redirectUri} is not an absolute URL.`);
  }
  if (redirectOrigin !== window.location.origin) {
    throw new WardError("invalid_request",
      `redirectUri must be on this page's origin ${window.location.origin} (the sign-in result is posted there), not ${redirectOrigin}.`);
  }
  // Opened before anything is awaited, while the click still counts as a
  // user gesture; it is pointed at Ward once the PKCE challenge is ready.
  const popup = openPopup(480, 640);
  if (!popup) {
    throw new WardError("popup_blocked", "The browser blocked the sign-in popup. Allow popups for this site, or call login() from a click.");
  }

  const state = randomString(32);
  const verifier = randomString(32);
  const wantsNonce = scope.split(/\s+/).includes("openid");
  const nonce = wantsNonce ? randomString(32) : "";
  let response;
  try {
    const params = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: "code",
      response_mode: "web_message",
      scope,
      state,
      code_challenge: await s256(verifier),
      code_challenge_method: "S256",
    });
    if (nonce) params.set("nonce", nonce);
    if (prompt) params.set("prompt", prompt);
    if (idpHint) params.set("kc_idp_hint", idpHint);
    popup.location.href = authorizationEndpoint + "?" + params.toString();
    response = await waitForResponse(popup, state);
  } finally {
    // The popup closes itself after posting, but a browser may refuse.
    if (!popup.closed) popup.close();
  }

  // Ward names itself in every authorization response (RFC 9207): one
  // without iss, or with another issuer's, is not Ward's answer.
  if (response.iss !== issuer) {
    throw new WardError("invalid_response", response.iss === undefined
      ? "The response does not name its issuer."
      : `The response names issuer ${response.iss}, not ${issuer}.`);
  }
  if (response.error) {
    throw new WardError(String(response.error), response.error_description ? String(response.error_description) : "");
  }
  if (!response.code) {
    throw new WardError("invalid_response", "The response carries neither a code nor an error.");
  }

  let res;
  try {
    res = await fetch(tokenEndpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: response.code,
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
      }),
      credentials: "omit",
    });
  } catch (e) {
    // fetch rejects with a bare TypeError both when the network fails and
    // when CORS withholds the answer (this origin is not a web origin).
    throw new WardError("network_error",
      `The token endpoint could not be reached, or did not allow this origin (${window.location.origin}) by CORS: ${e && e.message ? e.message : e}`);
  }
  let tokens;
  try {
    tokens = await res.json();
  } catch {
    throw new WardError(res.ok ? "invalid_response" : "network_error", `The token endpoint answered ${res.status} without JSON.`);
  }
  if (!res.ok) {
    throw new WardError(tokens.error || "invalid_response", tokens.error_description || `The token endpoint answered ${res.status}.`);
  }
  // The nonce ties the ID token to this sign-in. The token came straight
  // from the token endpoint over TLS, so its signature, aud, azp and exp are
  // left to whoever relies on it (a resource server verifies it by JWKS).
  if (nonce) {
    if (!tokens.id_token) {
      throw new WardError("invalid_response", "The scope asks for openid, but the token response has no ID token.");
    }
    let claims;
    try {
      claims = jwtPayload(tokens.id_token);
    } catch {
      throw new WardError("invalid_response", "The ID token cannot be read.");
    }
    if (claims.nonce !== nonce) {
      throw new WardError("invalid_response", "The ID token's nonce is not this sign-in's.");
    }
  }
  return tokens;
}

// waitForResponse resolves with the authorization response the popup posts.
// Messages from any other window or origin, of another type, or with
// another state are ignored: a forged message cannot end the sign-in. It
// rejects when the popup is closed without an answer.
function waitForResponse(popup, state) {
  return new Promise((resolve, reject) => {
    let done = false;
    let timer;
    const finish = (fn, value) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      window.removeEventListener("message", onMessage);
      fn(value);
    };
    function onMessage(event) {
      if (event.origin !== wardOrigin || event.source !== popup) return;
      const data = event.data;
      if (!data || typeof data !== "object" || data.type !== "authorization_response") return;
      const response = data.response;
      if (!response || typeof response !== "object" || response.state !== state) return;
      finish(resolve, response);
    }
    window.addEventListener("message", onMessage);
    timer = setInterval(() => {
      if (!popup.closed || done) return;
      clearInterval(timer);
      // The popup posts its answer and then closes itself: give a message
      // already on its way the chance to arrive before calling it a cancel.
      setTimeout(() => finish(reject, new WardError("popup_closed",
        "The sign-in window was closed before signing in finished.")), 500);
    }, 250);
  });
}
