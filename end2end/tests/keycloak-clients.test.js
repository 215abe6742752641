'use strict';
// The dev realm's clients, checked over plain HTTP (no browser). Needs: bash scripts/stack.sh up keycloak

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const {
  ISSUER, AUTH_ENDPOINT, TOKEN_ENDPOINT, CONSOLE_CLIENT, DEMO_PASSWORD,
  assertKeycloakUp, clientCredentials, decodeJwt, postForm,
} = require('../lib/oidc');

let discovery;
before(async () => { discovery = await assertKeycloakUp(); });

const asArray = (aud) => (Array.isArray(aud) ? aud : [aud]);

test('discovery: the issuer is the 127.0.0.1 URL', () => {
  assert.equal(discovery.issuer, ISSUER);
  assert.equal(discovery.token_endpoint, TOKEN_ENDPOINT);
});

test('opsdeck-internal client credentials: aud opsdeck-api, role service, tenants *', async () => {
  const tokens = await clientCredentials();
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.iss, ISSUER);
  assert.ok(asArray(claims.aud).includes('opsdeck-api'), `aud: ${JSON.stringify(claims.aud)}`);
  assert.ok(claims.realm_access.roles.includes('service'));
  assert.deepEqual(claims.tenants, ['*']);
  assert.deepEqual(claims.scope.split(' '), ['ops.read']);
  assert.equal(claims.azp, 'opsdeck-internal');
  assert.equal(claims.exp - claims.iat, 300); // access token lifespan 5 min
  assert.equal(tokens.refresh_token, undefined);
});

test('opsdeck-internal may ask for the optional scope ops.repair', async () => {
  const claims = decodeJwt((await clientCredentials({ scope: 'ops.repair' })).access_token);
  assert.deepEqual(claims.scope.split(' ').sort(), ['ops.read', 'ops.repair']);
});

test('opsdeck-internal has no other grants', async () => {
  const { status, body } = await postForm(TOKEN_ENDPOINT, {
    grant_type: 'password', client_id: 'opsdeck-internal', client_secret: 'opsdeck-internal-dev-secret',
    username: 'oscar.operator', password: DEMO_PASSWORD,
  });
  assert.notEqual(status, 200, JSON.stringify(body));
});

test('opsdeck-console: no direct access grants, no client credentials', async () => {
  for (const fields of [
    { grant_type: 'password', username: 'oscar.operator', password: DEMO_PASSWORD },
    { grant_type: 'client_credentials' },
  ]) {
    const { status, body } = await postForm(TOKEN_ENDPOINT, {
      ...fields, client_id: CONSOLE_CLIENT.id, client_secret: CONSOLE_CLIENT.secret,
    });
    assert.notEqual(status, 200, `${fields.grant_type}: ${JSON.stringify(body)}`);
    assert.match(body.error, /unauthorized_client|invalid_grant/);
  }
});

test('opsdeck-console: an authorization request without PKCE is refused', async () => {
  const res = await fetch(`${AUTH_ENDPOINT}?${new URLSearchParams({
    client_id: CONSOLE_CLIENT.id, redirect_uri: 'http://127.0.0.1:3000/auth/callback',
    response_type: 'code', scope: 'openid', state: 'x',
  })}`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const location = new URL(res.headers.get('location'));
  assert.equal(location.origin, 'http://127.0.0.1:3000');
  assert.equal(location.searchParams.get('error'), 'invalid_request');
  assert.match(location.searchParams.get('error_description'), /code_challenge/);
});

test('opsdeck-console: a redirect URI outside the console is refused', async () => {
  const res = await fetch(`${AUTH_ENDPOINT}?${new URLSearchParams({
    client_id: CONSOLE_CLIENT.id, redirect_uri: 'http://127.0.0.1:4000/evil',
    response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
  })}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
});
