'use strict';
// A SEV2 run through the console in Chromium with JavaScript disabled: oscar.operator declares and
// triages it, cora.comms posts a customer status update, oscar mitigates and resolves it, writes the
// post-incident review with an action item, completes the review and closes the incident. Every step is a
// plain HTML form post answered 303 to the incident's page; the panels a click away are plain <details>.

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

// Opens a <details> panel by clicking its summary, as a person would (no JavaScript needed).
async function open(page, detailsSelector) {
  if (!(await page.$eval(detailsSelector, (d) => d.open))) await page.click(`${detailsSelector} > summary`);
}

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

test('the page opens with what is wrong, who owns it and what is due next', async () => {
  const now = await oscar.textContent('section.now');
  assert.ok(now.includes('What is wrong') && now.includes('Who owns it') && now.includes('What is due next'));
  assert.ok(now.includes('nobody yet'), 'no owner before triage');
  assert.ok(now.includes('Next status update'), 'the next update is due');
});

test('oscar saves the triage', async () => {
  await open(oscar, '#triage');
  await oscar.fill('#triage-detected_at', '2026-01-01 10:00:00');
  await oscar.fill('#triage-business_capability', 'order orchestration');
  await oscar.fill('#triage-customer_symptom', 'orders stay in ORCHESTRATING');
  await oscar.fill('#triage-recovery_owner', 'oscar.operator');
  await oscar.fill('#triage-communication_owner', 'cora.comms');
  const response = await submit(oscar, 'form[action$="/triage"]');
  assert.equal(response.status(), 200);
  assert.equal(await oscar.inputValue('#triage-business_capability'), 'order orchestration');
  assert.ok((await oscar.textContent('section.now')).includes('cora.comms'), 'the owners are at the top');
});

test('cora posts a customer status update; a leaky one is refused with the word listed', async () => {
  await cora.goto(incidentUrl);
  assert.equal(await cora.inputValue('#internal-owner'), 'cora.comms', 'the internal update is pre-filled from triage');
  const customer = 'details:has(#customer-message)';
  await open(cora, customer);
  await cora.selectOption('#customer-status', 'INVESTIGATING');
  await cora.fill('#customer-affected_capability', 'Order confirmations');
  await cora.fill('#customer-message', 'Our Kafka cluster lags; orders are delayed.');
  await cora.fill('#customer-customer_action', 'Nothing');
  const refused = await submit(cora, `${customer} form`);
  assert.equal(refused.status(), 422);
  assert.ok((await cora.textContent('#customer-message-error')).includes('Kafka'), 'the word is listed at the field');
  assert.equal(await cora.inputValue('#customer-customer_action'), 'Nothing', 'the input is kept');
  await cora.fill('#customer-message', 'Order confirmations are delayed.');
  const posted = await submit(cora, `${customer} form`);
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

  await open(oscar, '#action-items');
  await open(oscar, '#action-items details');
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
