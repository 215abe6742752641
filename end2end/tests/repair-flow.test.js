'use strict';
// A governed repair through the console in Chromium with JavaScript disabled, against the real engine:
// adam.admin makes resume-orchestration HIGH risk for the order's tenant; oscar.operator declares an
// incident, opens a seeded order stuck in ORCHESTRATING, sees the dry-run and requests the repair with a
// reason; he may not approve his own request; ada.approver approves it from her queue; oscar confirms
// the dry-run and executes it; the order has moved (RESUME_ORCHESTRATION, a process instance under
// tenantId:orderId) and the repair page keeps who, why, before, after and the approval. The process
// instance is deleted from the shared engine afterwards.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const ui = require('../lib/console');

const BASE = process.env.OPSDECK_E2E_URL;
const ENGINE = process.env.OPSDECK_ENGINE_URL;
const order = {
  tenant: process.env.OPSDECK_E2E_REPAIR_TENANT,
  id: process.env.OPSDECK_E2E_REPAIR_ORDER_ID,
  number: process.env.OPSDECK_E2E_REPAIR_ORDER_NUMBER,
};
const REASON = `order ${order.number} stalled in orchestration with no process instance (e2e ${Date.now()})`;

let browser;
const signIn = (username, path) => ui.signedInPage(browser, BASE, username, path);
const { submit } = ui;
const engineInstances = () => ui.engineInstances(ENGINE, `${order.tenant}:${order.id}`);
const people = {};
let repairUrl;

before(async () => {
  assert.ok(BASE && ENGINE && order.id, 'run through scripts/e2e.sh, which starts the console and picks the order');
  browser = await launch({ javaScriptEnabled: false });
  people.adam = await signIn('adam.admin', '/admin');
  people.oscar = await signIn('oscar.operator', '/orders');
  people.ada = await signIn('ada.approver', '/repairs');
});

after(async () => {
  if (ENGINE && order.id) {
    await ui.deleteInstances(ENGINE, `${order.tenant}:${order.id}`);
  }
  if (browser) await browser.close();
});

test('adam makes resuming orchestration a two-person repair for the tenant', async () => {
  const adam = people.adam;
  await adam.goto(`${BASE}/admin`);
  await adam.selectOption('#policy-tenant', order.tenant);
  await adam.selectOption('#policy-repair', 'resume-orchestration');
  await adam.selectOption('#policy-risk', 'HIGH');
  await adam.fill('#policy-reason', 'a second person approves every resume during the e2e run');
  const response = await submit(adam, 'form[action="/admin/repair-policies"]');
  assert.equal(response.status(), 200);
  assert.ok((await adam.textContent('main')).includes('a second person approves every resume'));
});

test('oscar declares the incident, sees the dry-run and requests the repair', async () => {
  const oscar = people.oscar;
  await oscar.goto(`${BASE}/incidents/new`);
  await oscar.check('input[name="severity"][value="SEV3"]');
  await oscar.selectOption('select[name="detected_by"]', 'OPERATOR');
  await oscar.fill('input[name="summary"]', `Order ${order.number} stalled in orchestration`);
  await oscar.check(`input[name="tenants"][value="${order.tenant}"]`);
  assert.equal((await submit(oscar, 'form[action="/incidents/new"]')).status(), 200);
  const incident = new URL(oscar.url()).pathname.split('/').pop();

  await oscar.goto(`${BASE}/orders/${order.tenant}/${order.id}`);
  assert.ok((await oscar.textContent('main')).includes('ORCHESTRATING'));
  await Promise.all([oscar.waitForNavigation(), oscar.click('a[href^="/repairs/new?type=resume-orchestration"]')]);
  const dryRun = await oscar.textContent('main');
  assert.ok(dryRun.includes('Dry-run, as of now') && dryRun.includes('The dry-run passes'), dryRun);
  assert.ok(dryRun.includes('HIGH'), 'the tenant policy makes it HIGH risk');

  await oscar.selectOption('#repair-incident', incident);
  // Bad input first: a reason too short is refused at its field and nothing is stored.
  await oscar.fill('#repair-reason', 'stuck');
  const refused = await submit(oscar, 'form[action="/repairs"]');
  assert.equal(refused.status(), 422);
  assert.ok(await oscar.isVisible('#repair-reason-error'));
  await oscar.fill('#repair-reason', REASON);
  const requested = await submit(oscar, 'form[action="/repairs"]');
  assert.equal(requested.status(), 200);
  repairUrl = oscar.url();
  assert.match(new URL(repairUrl).pathname, /^\/repairs\/[0-9a-f-]{36}$/);
  const page = await oscar.textContent('main');
  assert.ok(page.includes('REQUESTED') && page.includes(REASON), page);
  assert.equal(await oscar.locator('form[action$="/decision"]').count(), 0, 'the requester is not offered the decision');
  assert.equal(await oscar.locator('form[action$="/execute"]').count(), 0, 'nothing to execute before approval');
});

test('ada approves it from her queue', async () => {
  const ada = people.ada;
  await ada.goto(`${BASE}/repairs`);
  const path = new URL(repairUrl).pathname;
  await Promise.all([ada.waitForNavigation(), ada.click(`a[href="${path}"]`)]);
  const approved = await submit(ada, 'form[action$="/decision"]', 'button[value="APPROVE"]');
  assert.equal(approved.status(), 200);
  const page = await ada.textContent('main');
  assert.ok(page.includes('APPROVED') && page.includes('ada.approver'), page);
});

test('oscar confirms the dry-run and executes it; the order moves and the evidence stays', async () => {
  const oscar = people.oscar;
  assert.equal((await engineInstances()).length, 0, 'no process instance before the repair');
  await oscar.goto(repairUrl);
  const executed = await submit(oscar, 'form[action$="/execute"]');
  assert.equal(executed.status(), 200);
  const page = await oscar.textContent('main');
  assert.ok(page.includes('EXECUTED'), page);
  assert.ok(page.includes('oscar.operator') && page.includes('ada.approver') && page.includes(REASON));
  assert.equal((await engineInstances()).length, 1, 'one process instance under tenantId:orderId');

  await oscar.goto(`${BASE}/orders/${order.tenant}/${order.id}`);
  const transitions = await oscar.textContent('section[aria-labelledby="transitions-heading"]');
  assert.ok(transitions.includes('RESUME_ORCHESTRATION'), transitions);
  assert.ok((await oscar.textContent('section[aria-labelledby="concerns-heading"]')).includes('EXECUTED'));
});
