'use strict';
// OIDC helpers for end-to-end tests against the dev realm (end2end/keycloak/opsdeck-realm.json),
// served by `scripts/stack.sh up keycloak`.

const crypto = require('node:crypto');

const ISSUER = process.env.OPSDECK_OIDC_ISSUER
  || `http://127.0.0.1:${process.env.OPSDECK_KEYCLOAK_PORT || 58180}/realms/opsdeck`;
const TOKEN_ENDPOINT = `${ISSUER}/protocol/openid-connect/token`;
const AUTH_ENDPOINT = `${ISSUER}/protocol/openid-connect/auth`;
const USERINFO_ENDPOINT = `${ISSUER}/protocol/openid-connect/userinfo`;

// Dev-realm credentials (not secrets: the realm file is committed and only serves the local stack).
const CONSOLE_CLIENT = {
  id: 'opsdeck-console',
  secret: process.env.OPSDECK_OIDC_CLIENT_SECRET || 'opsdeck-console-dev-secret',
};
const INTERNAL_CLIENT = {
  id: 'opsdeck-internal',
  secret: process.env.OPSDECK_INTERNAL_CLIENT_SECRET || 'opsdeck-internal-dev-secret',
};
const DEMO_PASSWORD = 'opsdeck-demo';

const TENANTS = {
  acme: '10000000-0000-4000-8000-000000000001',
  globex: '10000000-0000-4000-8000-000000000002',
  initech: '10000000-0000-4000-8000-000000000003',
  umbrella: '10000000-0000-4000-8000-000000000004',
};

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** The payload of a JWT, unverified (tests only). */
function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Throws a readable error when Keycloak's realm is not being served. */
async function assertKeycloakUp() {
  let res;
  try {
    res = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  } catch (err) {
    throw new Error(`Keycloak is not reachable at ${ISSUER} (${err.cause?.code || err.message}); `
      + 'start it with: bash scripts/stack.sh up keycloak chromium');
  }
  if (res.status !== 200) throw new Error(`${ISSUER} discovery answered ${res.status}`);
  return res.json();
}

async function postForm(url, fields) {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

/** client_credentials grant for opsdeck-internal; returns the token response. */
async function clientCredentials({ scope, client = INTERNAL_CLIENT } = {}) {
  const fields = { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret };
  if (scope) fields.scope = scope;
  const { status, body } = await postForm(TOKEN_ENDPOINT, fields);
  if (status !== 200) throw new Error(`client_credentials failed: ${status} ${JSON.stringify(body)}`);
  return body;
}

/**
 * Signs a user in to opsdeck-console through Keycloak's real login page (authorization code + PKCE
 * S256), in the given Playwright browser context, and redeems the code itself. The redirect URI is
 * one the console does not serve, so the code reaches only this helper, whether a console is running
 * on port 3000 or not.
 * Works in contexts with JavaScript disabled (the login page is a plain form).
 * Returns { tokens, idClaims, accessClaims }.
 */
async function loginToConsole(context, { username, password = DEMO_PASSWORD,
  redirectUri = 'http://127.0.0.1:3000/__e2e__/oidc-callback', scope = 'openid' }) {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(12));
  const nonce = b64url(crypto.randomBytes(12));
  const redirect = new URL(redirectUri);

  // Keycloak answers the login form with a redirect to the console. Playwright's route() does not see
  // requests that are the target of a redirect, so the callback URL is read off the browser's request
  // (nothing has to listen there: the navigation itself may fail with "connection refused").
  const page = await context.newPage();
  const isCallback = (r) => r.url().startsWith(`${redirect.origin}${redirect.pathname}`);
  let callback;
  page.on('request', (r) => { if (isCallback(r)) callback = new URL(r.url()); });
  try {
    const url = `${AUTH_ENDPOINT}?${new URLSearchParams({
      client_id: CONSOLE_CLIENT.id, redirect_uri: redirectUri, response_type: 'code', scope,
      state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
    })}`;
    // With an SSO session in this context Keycloak redirects straight back, without a login form.
    await page.goto(url).catch((err) => { if (!callback) throw err; });
    if (!callback) {
      await page.fill('#username', username);
      await page.fill('#password', password);
      const callbackRequest = page.waitForRequest(isCallback).catch(() => null);
      await page.click('#kc-login').catch(() => {});
      if (!(await callbackRequest)) {
        const text = (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
        throw new Error(`signing in as ${username} did not lead back to the console; the page says: ${text}`);
      }
    }
  } finally {
    await page.close();
  }
  if (!callback) throw new Error('no redirect to the console was captured');
  if (callback.searchParams.get('error')) {
    throw new Error(`authorization failed: ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`);
  }
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch');
  const { status, body } = await postForm(TOKEN_ENDPOINT, {
    grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: redirectUri,
    client_id: CONSOLE_CLIENT.id, client_secret: CONSOLE_CLIENT.secret, code_verifier: verifier,
  });
  if (status !== 200) throw new Error(`code exchange failed: ${status} ${JSON.stringify(body)}`);
  const idClaims = decodeJwt(body.id_token);
  if (idClaims.nonce !== nonce) throw new Error('nonce mismatch');
  return { tokens: body, idClaims, accessClaims: decodeJwt(body.access_token) };
}

/**
 * Signs a user in to a running opsdeck console the way a person does: opens `path` on the console (at
 * `base`), which sends the browser to Keycloak's login page; fills in the form and submits it; Keycloak
 * sends the browser back to the console, which lands on `path`. Works with JavaScript disabled.
 * Returns the response of the page finally shown.
 */
async function signInAtConsole(page, { base, username, password = DEMO_PASSWORD, path = '/orders' }) {
  await page.goto(`${base}${path}`);
  if (!page.url().startsWith(`${ISSUER}/`)) {
    throw new Error(`opening ${path} did not lead to Keycloak's login page but to ${page.url()}`);
  }
  await page.fill('#username', username);
  await page.fill('#password', password);
  const [response] = await Promise.all([
    page.waitForNavigation({ url: (url) => url.href.startsWith(base) }),
    page.click('#kc-login'),
  ]);
  return response;
}

module.exports = {
  ISSUER, TOKEN_ENDPOINT, AUTH_ENDPOINT, USERINFO_ENDPOINT, CONSOLE_CLIENT, INTERNAL_CLIENT,
  DEMO_PASSWORD, TENANTS, decodeJwt, assertKeycloakUp, postForm, clientCredentials, loginToConsole,
  signInAtConsole,
};
