'use strict';
// Helpers the console journeys share: a signed-in JavaScript-less page per person, posting a form as a
// person would (click, wait for the navigation), and the shared engine's instances of one business key.

const assert = require('node:assert/strict');
const { signInAtConsole } = require('./oidc');

/** A new JavaScript-less context of `browser`, signed in at the console as `username`, landed on `path`. */
async function signedInPage(browser, base, username, path) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const landed = await signInAtConsole(page, { base, username, path });
  assert.equal(landed.status(), 200, `${username} signs in`);
  return page;
}

/** Clicks `button` of the form and answers the response of the navigation it causes. */
async function submit(page, formSelector, button = 'button[type="submit"]') {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(`${formSelector} ${button}`)]);
  return response;
}

/** The engine's process instances under `businessKey` (`tenantId:orderId`). */
async function engineInstances(engine, businessKey) {
  const res = await fetch(`${engine}/process-instance?businessKey=${encodeURIComponent(businessKey)}`);
  assert.equal(res.status, 200);
  return res.json();
}

/** Deletes what a test started in the shared engine under `businessKey`. */
async function deleteInstances(engine, businessKey) {
  for (const instance of await engineInstances(engine, businessKey).catch(() => [])) {
    await fetch(`${engine}/process-instance/${instance.id}?skipCustomListeners=true`, { method: 'DELETE' });
  }
}

module.exports = { signedInPage, submit, engineInstances, deleteInstances };
