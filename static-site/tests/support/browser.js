// Headless Debian Chromium driven by playwright-core (no browser download), with every request
// that leaves the local server blocked, the Jitsi script replaced by the stand-in, and page errors
// and Content-Security-Policy violations collected so tests can assert there were none.

import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { STAND_IN_SOURCE } from './jitsi-stand-in.js';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed (apt-get install -y --no-install-recommends chromium)');
  }
}

/** Playwright starts each browser with a fresh temporary profile (its own --user-data-dir). */
export function launch() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}

export const PHONE = { width: 375, height: 812 };
export const DESKTOP = { width: 1280, height: 860 };

/**
 * A context for one person. `jitsi`: 'stand-in' (default) serves the recording stand-in for
 * https://{meet.jit.si,8x8.vc}/external_api.js, 'fail' aborts it as a blocked network would.
 * `allowOrigins`: other origins the test itself answers (with its own routes).
 */
export async function newPerson(browser, server, {
  timezoneId = 'America/Chicago', viewport = DESKTOP, jitsi = 'stand-in', bypassCSP = false, allowOrigins = [],
} = {}) {
  const context = await browser.newContext({ viewport, timezoneId, locale: 'en-US', baseURL: server.base, bypassCSP });
  const problems = [];
  const state = { jitsi };
  const jitsiScripts = []; // every external_api.js URL the page asked for
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === server.base || allowOrigins.includes(url.origin)) return route.fallback();
    if (url.pathname.endsWith('/external_api.js') && ['meet.jit.si', '8x8.vc'].includes(url.host)) {
      jitsiScripts.push(url.href);
      if (state.jitsi === 'fail') return route.abort('internetdisconnected');
      return route.fulfill({ status: 200, contentType: 'application/javascript', body: STAND_IN_SOURCE });
    }
    problems.push(`unexpected request to ${url.origin}${url.pathname}`);
    return route.abort('blockedbyclient');
  });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|net::ERR_/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  return {
    context,
    page,
    problems,
    jitsiScripts,
    /** Switches what https://<jitsi>/external_api.js answers from now on. */
    setJitsi(mode) { state.jitsi = mode; },
    async cspViolations() { return page.evaluate(() => window.__csp ?? []); },
    async close() { await context.close(); },
  };
}

/** Polls `fn` until it returns a truthy value (returned) or the timeout passes (throws). */
export async function eventually(fn, { timeout = 10_000, interval = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
