'use strict';
// The Order page in Chromium with JavaScript disabled, against a console serving a freshly seeded
// database (scripts/e2e.sh starts it and picks a seeded stuck order into OPSDECK_E2E_* variables).
// oscar.operator (all tenants) signs in first, through Keycloak's login form.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const { signInAtConsole } = require('../lib/oidc');

const BASE = process.env.OPSDECK_E2E_URL;
const order = {
  tenant: process.env.OPSDECK_E2E_TENANT,
  id: process.env.OPSDECK_E2E_ORDER_ID,
  number: process.env.OPSDECK_E2E_ORDER_NUMBER,
  status: process.env.OPSDECK_E2E_ORDER_STATUS,
  lines: Number(process.env.OPSDECK_E2E_LINES),
  transitions: Number(process.env.OPSDECK_E2E_TRANSITIONS),
};

let browser;
let page;

before(async () => {
  assert.ok(BASE && order.id, 'run through scripts/e2e.sh, which starts the console and picks a seeded order');
  browser = await launch({ javaScriptEnabled: false });
  page = browser.page;
  const landed = await signInAtConsole(page, { base: BASE, username: 'oscar.operator', path: '/orders' });
  assert.equal(landed.status(), 200);
});

after(async () => {
  if (browser) await browser.close();
});

test('an operator finds a seeded stuck order by its number with JavaScript disabled', async () => {
  await page.goto(`${BASE}/orders`);
  await page.selectOption('select[name="tenant"]', order.tenant);
  await page.fill('input[name="q"]', order.number);
  await Promise.all([page.waitForNavigation(), page.click('form.lookup button[type="submit"]')]);

  const url = new URL(page.url());
  assert.equal(url.pathname.startsWith('/orders'), true);
  const body = await page.textContent('main');
  assert.ok(body.includes(order.number), 'the order number is shown');
  assert.ok(body.includes(order.id), 'the order id is shown');
  assert.ok(body.includes(order.status), `the status ${order.status} is shown`);

  const lineRows = await page.locator('section[aria-labelledby="lines-heading"] tbody tr').count();
  assert.equal(lineRows, order.lines, 'every order line is listed');
  const transitionRows = await page.locator('section[aria-labelledby="transitions-heading"] tbody tr').count();
  assert.equal(transitionRows, order.transitions, 'the whole transition history is listed');
  assert.ok((await page.locator('section[aria-labelledby="outbox-heading"]').count()) === 1, 'outbox events are shown');
  assert.ok((await page.locator('section[aria-labelledby="fulfillment-heading"]').count()) === 1, 'fulfillment requests are shown');
});

test('the same order opens by its id', async () => {
  const response = await page.goto(`${BASE}/orders?tenant=${order.tenant}&q=${order.id}`);
  assert.equal(response.status(), 200);
  assert.ok((await page.textContent('main')).includes(order.number));
});

test('an unknown order says not found with a 404', async () => {
  const response = await page.goto(`${BASE}/orders?tenant=${order.tenant}&q=00000000-0000-4000-8000-00000000beef`);
  assert.equal(response.status(), 404);
  assert.match(await page.textContent('main'), /no order/i);
});

test('a malformed id says it is not a valid id with a 422', async () => {
  const response = await page.goto(`${BASE}/orders?tenant=${order.tenant}&q=0190f5c4-0000-7000-8000-00000000001`);
  assert.equal(response.status(), 422);
  assert.match(await page.textContent('main'), /not a valid/i);
});
