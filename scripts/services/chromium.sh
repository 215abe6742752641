# Chromium + playwright-core for the end-to-end tests (DESIGN.md §6). Sourced by stack.sh.
#
# Nothing long-running: start and stop are no-ops; "ready" means the browser runs and the tests can
# `require('playwright-core')`.
#   - Debian's chromium (/usr/bin/chromium). Playwright never downloads a browser here: tests launch this
#     one through end2end/lib/browser.js (executablePath).
#   - playwright-core, pinned in end2end/package.json and package-lock.json, installed with `npm ci` into
#     end2end/node_modules (gitignored) — the same install scripts/e2e.sh makes, so tests resolve it the
#     ordinary way. It is a single package with no dependencies (~14 MB, a few seconds; npm's cache in
#     ~/.npm makes a fresh clone's install quick).

CHROMIUM_BIN=/usr/bin/chromium
E2E_DIR="$STACK_ROOT/end2end"

# end2end/ resolves playwright-core at the version its package.json pins?
_playwright_ok() {
  (cd "$E2E_DIR" && node -e '
    const want = require("./package.json").dependencies["playwright-core"];
    process.exit(require("playwright-core/package.json").version === want ? 0 : 1);') >/dev/null 2>&1
}

chromium_install() {
  apt_install chromium
  command -v npm >/dev/null || die "npm not found (Node.js 20+ is expected on the machine)"
  if ! _playwright_ok; then
    [ -L "$E2E_DIR/node_modules" ] && rm -f "$E2E_DIR/node_modules"
    log "npm ci in end2end/ (playwright-core)"
    (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error) >>"$LOGS/chromium.log" 2>&1 \
      || die "npm ci in end2end/ failed (see $LOGS/chromium.log)"
  fi
}

chromium_start() { :; }
chromium_stop() { :; }
chromium_timeout() { echo 10; }

# The browser binary runs, and the tests can load playwright-core.
chromium_ready() {
  [ -x "$CHROMIUM_BIN" ] && "$CHROMIUM_BIN" --version >/dev/null 2>&1 && _playwright_ok
}
