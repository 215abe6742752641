'use strict';
// Smoke test of the identity stack in a real browser: Debian's Chromium (playwright-core) against
// Keycloak's real login page and the dev realm. Needs: bash scripts/stack.sh up keycloak chromium
// Run: node --test end2end/tests/

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const { ISSUER, DEMO_PASSWORD, TENANTS, USERINFO_ENDPOINT, assertKeycloakUp, loginToConsole } = require('../lib/oidc');

let browser;

before(async () => {
  await assertKeycloakUp();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('oscar.operator signs in to the account console through the real login page', async () => {
  const { page } = browser;
  await page.goto(`${ISSUER}/account`);
  await page.waitForSelector('#kc-login');
  assert.match(page.url(), /\/realms\/opsdeck\/protocol\/openid-connect\/auth/);
  await page.fill('#username', 'oscar.operator');
  await page.fill('#password', DEMO_PASSWORD);
  await page.click('#kc-login');

  await page.getByRole('heading', { name: 'Personal info' }).waitFor();
  assert.match(page.url(), /\/realms\/opsdeck\/account/);
  assert.equal(await page.getByLabel('Username').inputValue(), 'oscar.operator');
  await page.getByText('Oscar Operator').first().waitFor();
  // The tenant scope is admin-only in the user profile: users can neither see nor edit it.
  assert.equal(await page.getByText(/tenant/i).count(), 0);
});

test('a wrong password is refused on the login page', async () => {
  const context = await browser.newContext(); // the account console redirects to the login page by script
  try {
    const page = await context.newPage();
    await page.goto(`${ISSUER}/account`);
    await page.fill('#username', 'oscar.operator');
    await page.fill('#password', 'not-the-password');
    await page.click('#kc-login');
    await page.getByText(/invalid username or password/i).first().waitFor();
    assert.match(page.url(), /\/realms\/opsdeck\/login-actions\/authenticate/);
  } finally {
    await context.close();
  }
});

test('opsdeck-console code flow + PKCE (no JavaScript): ID token carries roles and tenants', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const { tokens, idClaims, accessClaims } = await loginToConsole(context, { username: 'oscar.operator' });
    assert.equal(idClaims.iss, ISSUER);
    assert.equal(idClaims.aud, 'opsdeck-console');
    assert.equal(idClaims.preferred_username, 'oscar.operator');
    assert.ok(idClaims.realm_access.roles.includes('operator'), JSON.stringify(idClaims.realm_access));
    assert.ok(!idClaims.realm_access.roles.includes('approver'));
    assert.deepEqual(idClaims.tenants, ['*']);
    assert.deepEqual(accessClaims.tenants, ['*']);
    assert.ok(accessClaims.realm_access.roles.includes('operator'));
    assert.equal(accessClaims.exp - accessClaims.iat, 300); // access token lifespan 5 min

    const res = await fetch(USERINFO_ENDPOINT, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(res.status, 200);
    const userinfo = await res.json();
    assert.deepEqual(userinfo.tenants, ['*']);
    assert.ok(userinfo.realm_access.roles.includes('operator'));
  } finally {
    await context.close();
  }
});

test('olga.opsapprover: several roles and a list of tenant ids', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const { idClaims } = await loginToConsole(context, { username: 'olga.opsapprover' });
    const roles = idClaims.realm_access.roles;
    assert.ok(roles.includes('operator') && roles.includes('approver'), JSON.stringify(roles));
    assert.deepEqual([...idClaims.tenants].sort(), [TENANTS.acme, TENANTS.globex]);
  } finally {
    await context.close();
  }
});

test('a user cannot widen their own tenant scope through the account API', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const { tokens } = await loginToConsole(context, { username: 'vera.viewer' });
    const account = `${ISSUER}/account/`;
    const headers = {
      authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json', accept: 'application/json',
    };
    const me = await (await fetch(account, { headers })).json();
    assert.equal(me.username, 'vera.viewer');
    const res = await fetch(account, {
      method: 'POST', headers, body: JSON.stringify({ ...me, attributes: { ...me.attributes, tenants: ['*'] } }),
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /error-user-attribute-read-only/);
    // Signed in again (the SSO session of this context), the token still has only acme.
    const again = await loginToConsole(context, { username: 'vera.viewer' });
    assert.deepEqual(again.idClaims.tenants, [TENANTS.acme]);
  } finally {
    await context.close();
  }
});
