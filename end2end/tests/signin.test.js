'use strict';
// Signing in to the console through Keycloak's real login form, in Chromium with JavaScript disabled,
// against the console scripts/e2e.sh serves (OPSDECK_E2E_URL, public URL http://127.0.0.1:38080).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const { ISSUER, TENANTS, signInAtConsole } = require('../lib/oidc');

const BASE = process.env.OPSDECK_E2E_URL;

let browser;
let page;

before(async () => {
  assert.ok(BASE, 'run through scripts/e2e.sh, which starts the console');
  browser = await launch({ javaScriptEnabled: false });
  page = browser.page;
});

after(async () => {
  if (browser) await browser.close();
});

test('a page of the console sends a stranger to Keycloak to sign in', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const stranger = await context.newPage();
    await stranger.goto(`${BASE}/orders`);
    assert.ok(stranger.url().startsWith(`${ISSUER}/protocol/openid-connect/auth?`), stranger.url());
    const authorize = new URL(stranger.url());
    assert.equal(authorize.searchParams.get('client_id'), 'opsdeck-console');
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('nonce'), 'a nonce is sent');
    assert.equal(authorize.searchParams.get('redirect_uri'), `${BASE}/auth/callback`);
  } finally {
    await context.close();
  }
});

test('vera.viewer signs in through the login form and sees only acme in the tenant select', async () => {
  const landed = await signInAtConsole(page, { base: BASE, username: 'vera.viewer', path: '/orders' });
  assert.equal(landed.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/orders');

  const options = await page.locator('select[name="tenant"] option').evaluateAll(
    (els) => els.map((e) => e.getAttribute('value')).filter(Boolean),
  );
  assert.deepEqual(options, [TENANTS.acme]);
  assert.equal((await page.textContent('.whoami-name')).trim(), 'Vera Viewer');
  assert.equal((await page.textContent('.whoami-roles')).trim(), 'viewer');
  const cookies = await page.context().cookies(BASE);
  const session = cookies.find((c) => c.name === 'opsdeck_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
});

test('"Who am I" shows her identity, roles and tenants', async () => {
  const response = await page.goto(`${BASE}/me`);
  assert.equal(response.status(), 200);
  const main = await page.textContent('main');
  for (const text of ['Vera Viewer', 'vera.viewer', 'vera.viewer@opsdeck.example', 'viewer', 'Acme Corporation (acme)', 'READ']) {
    assert.ok(main.includes(text), `/me shows ${text}`);
  }
  assert.ok(!main.includes('Globex'), 'no tenant outside her scope');
  assert.deepEqual(await page.locator('nav a').allTextContents(), ['Dashboards', 'Diagnostics', 'Orders', 'Incidents', 'Repairs', 'Reconciliation', 'Runbooks', 'Controls', 'Drills', 'Who am I'], 'a viewer sees what she may read and no Admin');
});

test('signing out ends the console session and the Keycloak session', async () => {
  await Promise.all([
    page.waitForURL((url) => url.href === `${BASE}/auth/signed-out`),
    page.click('form.signout button[type="submit"]'),
  ]);
  assert.match(await page.textContent('main'), /You have signed out/);
  // The console wants a sign-in again, and Keycloak asks for the password again (its session ended too).
  await page.goto(`${BASE}/orders`);
  assert.ok(page.url().startsWith(`${ISSUER}/`), page.url());
  assert.equal(await page.locator('#kc-login').count(), 1, "Keycloak's login form is shown");
});
