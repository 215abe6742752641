'use strict';
// Browser helper for the opsdeck end-to-end tests: Debian's Chromium (installed by
// `scripts/stack.sh up chromium`) driven by playwright-core. Playwright never downloads a browser here.
//
//   const { launch } = require('../lib/browser');
//   const b = await launch();                               // headless, JavaScript on
//   await b.page.goto('http://127.0.0.1:58180/realms/opsdeck/account');
//   const noJs = await b.newContext({ javaScriptEnabled: false });   // a second, JS-less context
//   await b.close();
//
// Each launch gets a fresh, empty profile (Playwright creates a temporary --user-data-dir per browser
// and deletes it on close). The flags keep Chromium off the network on a machine with no internet:
// without the background-networking ones it keeps trying (and failing) to reach Google's hosts.

const { chromium } = require('playwright-core');

const CHROMIUM = process.env.OPSDECK_CHROMIUM || '/usr/bin/chromium';

const CHROMIUM_FLAGS = [
  '--no-sandbox', // we run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium and opens one context with one page.
 *
 * @param {object} [options]
 * @param {boolean} [options.javaScriptEnabled=true] for the first context (newContext takes its own)
 * @param {boolean} [options.headless=true]
 * @param {string[]} [options.args] extra Chromium flags
 * @param {number} [options.timeout=15000] default timeout of actions and navigations, ms
 * @param {object} [options.contextOptions] more Playwright BrowserContext options (baseURL, viewport, ...)
 * @returns {Promise<{browser, context, page, newContext: Function, close: Function}>}
 */
async function launch(options = {}) {
  const {
    javaScriptEnabled = true,
    headless = true,
    args = [],
    timeout = 15000,
    contextOptions = {},
  } = options;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless,
    args: [...CHROMIUM_FLAGS, ...args],
    timeout: 30000,
  });
  async function newContext(ctxOptions = {}) {
    const context = await browser.newContext({ ...contextOptions, ...ctxOptions });
    context.setDefaultTimeout(timeout);
    context.setDefaultNavigationTimeout(timeout);
    return context;
  }
  try {
    const context = await newContext({ javaScriptEnabled });
    const page = await context.newPage();
    return { browser, context, page, newContext, close: () => browser.close() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

module.exports = { launch, CHROMIUM, CHROMIUM_FLAGS };
