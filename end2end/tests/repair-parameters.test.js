'use strict';
// A repair that takes parameters, through the console with JavaScript disabled: oscar.operator declares
// an incident for a seeded approval past its SLA and opens reassign-approver for it. The dry-run asks for
// the new approver; requesting it without one is refused at that field and stores nothing; with one, the
// repair is stored REQUESTED and the parameter is part of the dry-run the approval binds to.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { launch } = require('../lib/browser');
const ui = require('../lib/console');

const BASE = process.env.OPSDECK_E2E_URL;
const approval = { tenant: process.env.OPSDECK_E2E_APPROVAL_TENANT, id: process.env.OPSDECK_E2E_APPROVAL_ID };
const ASSIGNEE = 'nora.newapprover';

let browser;
let oscar;
let incident;

before(async () => {
  assert.ok(BASE && approval.id, 'run through scripts/e2e.sh, which starts the console and picks the approval');
  browser = await launch({ javaScriptEnabled: false });
  oscar = await ui.signedInPage(browser, BASE, 'oscar.operator', '/incidents/new');
});

after(async () => {
  if (browser) await browser.close();
});

test('oscar declares the incident the reassignment belongs to', async () => {
  await oscar.goto(`${BASE}/incidents/new`);
  await oscar.check('input[name="severity"][value="SEV4"]');
  await oscar.selectOption('select[name="detected_by"]', 'OPERATOR');
  await oscar.fill('input[name="summary"]', 'A quote approval sits past its SLA with an approver who is away');
  await oscar.check(`input[name="tenants"][value="${approval.tenant}"]`);
  assert.equal((await ui.submit(oscar, 'form[action="/incidents/new"]')).status(), 200);
  incident = new URL(oscar.url()).pathname.split('/').pop();
});

test('the dry-run asks for the new approver; without one nothing is stored', async () => {
  await oscar.goto(`${BASE}/repairs/new?type=reassign-approver&tenant=${approval.tenant}&entity=${approval.id}&incident=${incident}`);
  assert.ok(await oscar.isVisible('#preview-assignee'), 'the parameter is a field of the dry-run');
  assert.ok(await oscar.isVisible('#repair-assignee'), 'and of the request');
  await oscar.fill('#repair-reason', 'the assigned approver is on leave; the request must move to a colleague');
  const refused = await ui.submit(oscar, 'form[action="/repairs"]');
  assert.equal(refused.status(), 422);
  assert.ok(await oscar.isVisible('#repair-assignee-error'), 'the message is at the field');
  assert.equal(new URL(oscar.url()).pathname, '/repairs', 'no repair page: nothing was stored');
});

test('with the new approver the repair is requested, the parameter bound to its dry-run', async () => {
  await oscar.goto(`${BASE}/repairs/new?type=reassign-approver&tenant=${approval.tenant}&entity=${approval.id}&incident=${incident}&assignee=${ASSIGNEE}`);
  assert.equal(await oscar.inputValue('#repair-assignee'), ASSIGNEE, 'the link prefills the parameter');
  const dryRun = await oscar.textContent('main');
  assert.ok(dryRun.includes(`→ ${ASSIGNEE}`), dryRun);
  await oscar.fill('#repair-reason', 'the assigned approver is on leave; the request must move to a colleague');
  const requested = await ui.submit(oscar, 'form[action="/repairs"]');
  assert.equal(requested.status(), 200);
  assert.match(new URL(oscar.url()).pathname, /^\/repairs\/[0-9a-f-]{36}$/);
  const page = await oscar.textContent('main');
  assert.ok(page.includes('REQUESTED'), page);
  assert.ok(page.includes(ASSIGNEE), 'the proposed change names the new approver');
});
