'use strict';
// The lesson's lab drill (§25 item 10), end to end, in Chromium with JavaScript disabled, against the real
// PostgreSQL, Operaton and Keycloak:
//   oscar.operator starts the "reconciliation mismatch" drill: a drill order is made stuck on purpose
//   (captured, its orchestration start given up, no process instance) and a drill incident is declared;
//   reconciliation flags the order; oscar links the drill's incident to the mismatch and opens the order;
//   adam.admin makes resume-orchestration two-person for the drill tenant; a service asks the internal
//   repair API for the resume-orchestration dry-run (dryRun: true, an Idempotency-Key); ada.approver — a
//   second SSO identity — approves it from her queue; the service executes it through the API (dryRun:
//   false, the same key); the order's process runs in Operaton under tenantId:orderId; reconciliation is
//   clean; oscar ends the drill and the evaluation, from evidence, says the entity was found, the
//   recovery was a repair, the audit is complete and no change went around the transitions.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const { clientCredentials } = require('../lib/oidc');
const ui = require('../lib/console');

const BASE = process.env.OPSDECK_E2E_URL;
const ENGINE = process.env.OPSDECK_ENGINE_URL;
const DRILL_TENANT = '30000000-0000-4000-8000-000000000001';
const KEY = `lab-drill-${Date.now()}`;
const REASON = 'lab drill: the drill order was captured but its orchestration start was given up';

let browser;
const signIn = (username, path) => ui.signedInPage(browser, BASE, username, path);
const { submit } = ui;
const engineInstances = () => ui.engineInstances(ENGINE, `${DRILL_TENANT}:${drill.order}`);
const people = {};
const drill = {};

/** The internal repair API, as a service holding a client-credentials token with the repair scope. */
async function repairApi(dryRun) {
  const { access_token: token } = await clientCredentials({ scope: 'ops.repair' });
  const res = await fetch(`${BASE}/internal/v1/repairs/resume-orchestration`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': KEY },
    body: JSON.stringify({ tenantId: DRILL_TENANT, orderId: drill.order, incidentId: drill.incident, reason: REASON, dryRun }),
  });
  return { status: res.status, body: await res.json() };
}

/** Runs the order ↔ engine check for the drill tenant from the console; answers the run's page text. */
async function reconcile(page) {
  await page.goto(`${BASE}/reconciliation`);
  await page.selectOption('#run-check', 'order-engine');
  await page.selectOption('#run-tenant', DRILL_TENANT);
  const response = await submit(page, 'form[action="/reconciliation/runs"]');
  assert.equal(response.status(), 200);
  return page.textContent('main');
}

before(async () => {
  assert.ok(BASE && ENGINE, 'run through scripts/e2e.sh, which starts the console');
  browser = await launch({ javaScriptEnabled: false });
  people.oscar = await signIn('oscar.operator', '/drills');
  people.adam = await signIn('adam.admin', '/admin');
  people.ada = await signIn('ada.approver', '/repairs');
});

after(async () => {
  if (ENGINE && drill.order) {
    await ui.deleteInstances(ENGINE, `${DRILL_TENANT}:${drill.order}`);
  }
  if (browser) await browser.close();
});

test('oscar starts the drill: an order is broken on purpose and a drill incident is declared', async () => {
  const oscar = people.oscar;
  await oscar.goto(`${BASE}/drills`);
  await oscar.selectOption('#drill-drill', 'reconciliation-mismatch');
  const started = await submit(oscar, 'form[action="/drills"]');
  assert.equal(started.status(), 200);
  drill.url = oscar.url();
  assert.match(new URL(drill.url).pathname, /^\/drills\/[0-9a-f-]{36}$/);
  const page = await oscar.textContent('main');
  assert.ok(page.includes('Running for') && page.includes('resume-orchestration'), page);
  const incident = await oscar.getAttribute('a[href^="/incidents/"]:text("the drill\'s incident")', 'href');
  drill.incident = incident.split('/').pop();
});

test('reconciliation flags the order; oscar links the drill incident and opens the order', async () => {
  const oscar = people.oscar;
  const run = await reconcile(oscar);
  assert.ok(/mismatch/i.test(run), run);
  await oscar.goto(`${BASE}/reconciliation?check=order-engine&tenant=${DRILL_TENANT}`);
  const links = oscar.locator('a[href^="/reconciliation/mismatches/"]');
  assert.ok((await links.count()) >= 1, 'the drill order is flagged');
  await Promise.all([oscar.waitForNavigation(), links.first().click()]);
  drill.mismatchUrl = oscar.url();
  const mismatch = await oscar.textContent('main');
  assert.ok(mismatch.includes('resume-orchestration') || mismatch.includes('Resume orchestration'), mismatch);
  const orderHref = await oscar.getAttribute(`a[href^="/orders/${DRILL_TENANT}/"]`, 'href');
  drill.order = orderHref.split('/').pop();

  // Had no incident fitted, the mismatch declares one prefilled (nothing is declared until submitted).
  const declare = await oscar.getAttribute('a:text("Declare an incident for it")', 'href');
  await oscar.goto(`${BASE}${declare}`);
  assert.ok((await oscar.inputValue('#declare-summary')).startsWith('Reconciliation:'));
  assert.equal(await oscar.inputValue('#declare-detected_by'), 'RECONCILIATION');
  assert.ok((await oscar.inputValue('#declare-order_ids')).includes(drill.order));
  await oscar.goto(drill.mismatchUrl);

  await oscar.selectOption('#link-incident', drill.incident);
  assert.equal((await submit(oscar, `form[action$="/incident"]`)).status(), 200);
  assert.ok((await oscar.textContent('main')).includes(drill.incident), 'the mismatch names the incident');

  await oscar.goto(`${BASE}${orderHref}`);
  const order = await oscar.textContent('main');
  assert.ok(order.includes('CAPTURED'), order);
  assert.ok(order.includes('Reconciliation mismatches open'), 'Order 360 lists the open mismatch');
  assert.equal((await engineInstances()).length, 0, 'no process instance: the order is stuck');
});

test('a service asks for the dry-run; it waits for a second person', async () => {
  const adam = people.adam;
  await adam.goto(`${BASE}/admin`);
  await adam.selectOption('#policy-tenant', DRILL_TENANT);
  await adam.selectOption('#policy-repair', 'resume-orchestration');
  await adam.selectOption('#policy-risk', 'HIGH');
  await adam.fill('#policy-reason', 'the lab drill resumes with a second person');
  assert.equal((await submit(adam, 'form[action="/admin/repair-policies"]')).status(), 200);

  const { status, body } = await repairApi(true);
  assert.equal(status, 201, JSON.stringify(body));
  assert.equal(body.status, 'REQUESTED');
  assert.equal(body.risk, 'HIGH');
  assert.ok(body.safetyChecks.every((c) => c.verdict !== 'FAIL'), JSON.stringify(body.safetyChecks));
  assert.equal(body.proposedChange.resume_at, 'reserve');
  drill.repair = body.repairId;

  // Before approval, executing answers 202 and does nothing.
  const early = await repairApi(false);
  assert.equal(early.status, 202, JSON.stringify(early.body));
  assert.equal((await engineInstances()).length, 0);
});

test('ada, a second SSO identity, approves it from her queue', async () => {
  const ada = people.ada;
  await ada.goto(`${BASE}/repairs`);
  await Promise.all([ada.waitForNavigation(), ada.click(`a[href="/repairs/${drill.repair}"]`)]);
  const approved = await submit(ada, 'form[action$="/decision"]', 'button[value="APPROVE"]');
  assert.equal(approved.status(), 200);
  assert.ok((await ada.textContent('main')).includes('APPROVED'));
});

test('the service executes it through the API; the order runs in Operaton; reconciliation is clean', async () => {
  const { status, body } = await repairApi(false);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.status, 'EXECUTED', JSON.stringify(body));
  assert.deepEqual(body.pendingEngineCalls, []);
  assert.equal(body.coherentAfter, true, JSON.stringify(body));
  assert.ok(body.approvedBy.includes('ada.approver'), body.approvedBy);
  const instances = await engineInstances();
  assert.equal(instances.length, 1, 'one process instance under tenantId:orderId');
  const activities = await (await fetch(`${ENGINE}/process-instance/${instances[0].id}/activity-instances`)).json();
  assert.ok(JSON.stringify(activities).includes('"activityId":"reserve"'), JSON.stringify(activities));

  const oscar = people.oscar;
  await reconcile(oscar);
  await oscar.goto(drill.mismatchUrl);
  assert.ok((await oscar.textContent('main')).includes('RESOLVED'), 'the next run resolves the mismatch');
  await oscar.goto(`${BASE}/reconciliation?check=order-engine&tenant=${DRILL_TENANT}`);
  assert.equal(await oscar.locator('a[href^="/reconciliation/mismatches/"]').count(), 0, 'nothing open for the drill tenant');
});

test('oscar ends the drill; the evaluation is complete from evidence', async () => {
  const oscar = people.oscar;
  await oscar.goto(drill.url);
  await oscar.selectOption('#drill-runbook_accurate', 'YES');
  const ended = await submit(oscar, `form[action$="/end"]`);
  assert.equal(ended.status(), 200);
  const page = await oscar.textContent('main');
  assert.ok(page.includes('Recovered'), page);
  const answer = async (question) => {
    const row = oscar.locator('tr', { hasText: question });
    return (await row.textContent()).toLowerCase();
  };
  assert.ok((await answer('find the affected entity')).includes('yes'));
  assert.ok((await answer('recovery command safe')).includes('yes'));
  assert.ok((await answer('audit evidence complete')).includes('yes'));
  assert.ok((await answer('avoid manual SQL mutation')).includes('yes'));
  assert.ok(page.includes(`The broken entity was order ${drill.order}`), page);

  // The evidence is on the incident: the drill, the repair's request, approval, execution and re-check.
  await oscar.goto(`${BASE}/incidents/${drill.incident}`);
  const story = await oscar.textContent('main');
  for (const step of ['Drill started', 'REPAIR', 'approved', 'executed', 'Re-check after the repair: coherent']) {
    assert.ok(story.toLowerCase().includes(step.toLowerCase()), `${step} on the incident`);
  }
});
