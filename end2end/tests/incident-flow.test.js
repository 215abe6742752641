'use strict';
// A SEV2 run through the console in Chromium with JavaScript disabled (issue 5): oscar.operator declares
// and triages it, cora.comms posts a status update, oscar mitigates and resolves it, writes the
// post-incident review with an action item, completes the review and closes the incident. Every step is a
// plain HTML form post answered 303 to the incident's page.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const { signInAtConsole, TENANTS } = require('../lib/oidc');

const BASE = process.env.OPSDECK_E2E_URL;
const SUMMARY = `Orchestration stuck for acme (e2e ${Date.now()})`;

let browser;
let oscar;
let cora;
let incidentUrl;

async function submit(page, formSelector) {
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click(`${formSelector} button[type="submit"]`),
  ]);
  return response;
}

before(async () => {
  assert.ok(BASE, 'run through scripts/e2e.sh, which starts the console');
  browser = await launch({ javaScriptEnabled: false });
  oscar = browser.page;
  const landed = await signInAtConsole(oscar, { base: BASE, username: 'oscar.operator', path: '/incidents' });
  assert.equal(landed.status(), 200);
  const coraContext = await browser.newContext({ javaScriptEnabled: false });
  cora = await coraContext.newPage();
  const coraLanded = await signInAtConsole(cora, { base: BASE, username: 'cora.comms', path: '/incidents' });
  assert.equal(coraLanded.status(), 200);
});

after(async () => {
  if (browser) await browser.close();
});

test('oscar declares a SEV2 and lands on its page', async () => {
  await oscar.goto(`${BASE}/incidents`);
  await Promise.all([oscar.waitForNavigation(), oscar.click('a[href="/incidents/new"]')]);
  assert.ok((await oscar.textContent('main')).includes('Major tenant or core service degraded'));
  await oscar.check('input[name="severity"][value="SEV2"]');
  await oscar.selectOption('select[name="detected_by"]', 'ALERT');
  await oscar.fill('input[name="summary"]', SUMMARY);
  await oscar.check(`input[name="tenants"][value="${TENANTS.acme}"]`);
  const response = await submit(oscar, 'form[action="/incidents/new"]');
  assert.equal(response.status(), 200);
  incidentUrl = oscar.url();
  assert.match(new URL(incidentUrl).pathname, /^\/incidents\/[0-9a-f-]{36}$/);
  const main = await oscar.textContent('main');
  assert.ok(main.includes(SUMMARY) && main.includes('SEV-2') && main.includes('OPEN'));
});

test('oscar saves the triage', async () => {
  await oscar.fill('#triage-detected_at', '2026-01-01 10:00:00');
  await oscar.fill('#triage-business_capability', 'order orchestration');
  await oscar.fill('#triage-customer_symptom', 'orders stay in ORCHESTRATING');
  await oscar.fill('#triage-recovery_owner', 'oscar.operator');
  await oscar.fill('#triage-communication_owner', 'cora.comms');
  const response = await submit(oscar, 'form[action$="/triage"]');
  assert.equal(response.status(), 200);
  assert.equal(await oscar.inputValue('#triage-business_capability'), 'order orchestration');
});

test('cora posts a customer status update; a leaky one is refused with the word listed', async () => {
  await cora.goto(incidentUrl);
  await cora.selectOption('#update-audience', 'CUSTOMER');
  await cora.selectOption('#update-status', 'INVESTIGATING');
  await cora.fill('#update-message', 'Our Kafka cluster lags; orders are delayed.');
  const refused = await submit(cora, 'form[action$="/updates"]');
  assert.equal(refused.status(), 422);
  assert.ok((await cora.textContent('form[action$="/updates"] .field-error')).includes('Kafka'), 'the word is listed at the field');
  await cora.fill('#update-message', 'Order confirmations are delayed; no action is needed on your side.');
  const posted = await submit(cora, 'form[action$="/updates"]');
  assert.equal(posted.status(), 200);
  assert.ok((await cora.textContent('main')).includes('Order confirmations are delayed'));
});

test('oscar mitigates and resolves it', async () => {
  await oscar.goto(incidentUrl);
  await oscar.fill('form.lifecycle-mitigate input[name="reason"]', 'paused orchestration starts for acme');
  assert.equal((await submit(oscar, 'form.lifecycle-mitigate')).status(), 200);
  assert.ok((await oscar.textContent('h1')).includes('MITIGATED'));
  await oscar.fill('form.lifecycle-resolve input[name="reason"]', 'stuck orders replayed');
  assert.equal((await submit(oscar, 'form.lifecycle-resolve')).status(), 200);
  assert.ok((await oscar.textContent('h1')).includes('RESOLVED'));
});

test('oscar writes the review with an action item, completes it and closes the incident', async () => {
  for (const field of ['summary', 'business_impact', 'duration', 'timeline', 'technical_root_cause',
    'process_root_cause', 'detection_gap', 'prevention_gap']) {
    await oscar.fill(`#review-${field}`, `e2e ${field.replace(/_/g, ' ')}`);
  }
  assert.equal((await submit(oscar, 'form[action$="/review"]')).status(), 200);

  await oscar.fill('#item-action', 'Alert on orders stuck in ORCHESTRATING');
  await oscar.fill('#item-owner', 'oscar.operator');
  await oscar.fill('#item-due_date', '2030-01-31');
  await oscar.selectOption('#item-item_type', 'ALERT');
  await oscar.selectOption('#item-category', 'DETECT');
  assert.equal((await submit(oscar, 'form[action$="/action-items"]')).status(), 200);
  assert.ok((await oscar.textContent('main')).includes('Alert on orders stuck in ORCHESTRATING'));

  assert.equal((await submit(oscar, 'form[action$="/review/complete"]')).status(), 200);
  await oscar.fill('form.lifecycle-close input[name="reason"]', 'review complete, action items owned');
  const closed = await submit(oscar, 'form.lifecycle-close');
  assert.equal(closed.status(), 200);
  assert.ok((await oscar.textContent('h1')).includes('CLOSED'));
  const main = await oscar.textContent('main');
  assert.ok(main.includes('Order confirmations are delayed'), 'the status update is on the page');
});
