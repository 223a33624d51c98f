// Sign-in through Cognito's hosted UI (authorization code + PKCE), with the hosted UI and its token
// endpoint played by the test: the request carries a proper S256 challenge and state, the code is
// exchanged with the matching verifier, and the tokens never reach Web Storage.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer } from './support/server.js';
import { launch, newPerson } from './support/browser.js';
import { PATIENT } from './support/app.js';

const COGNITO = 'https://medichain-test.auth.eu-west-1.amazoncognito.com';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('Cognito mode: PKCE sign-in, tokens only in memory, client-side navigation keeps the session', async () => {
  // The ID token is one the local server accepts, so the API calls after sign-in are real.
  const idToken = await server.login(PATIENT.id);
  const person = await newPerson(browser, server, {
    timezoneId: PATIENT.timezoneId,
    // The local server's CSP allows connect-src 'self' only; in AWS, CloudFront's policy adds the
    // Cognito domain (see docs/web-app.md). Here the test plays Cognito, so CSP is bypassed.
    bypassCSP: true,
    allowOrigins: [COGNITO],
  });
  const { page, context } = person;
  page.setDefaultTimeout(10_000);
  const redirectUri = `${server.base}/`;
  await page.route('**/config.json', (route) => route.fulfill({
    contentType: 'application/json',
    body: JSON.stringify({
      api_base: '', jitsi_domain: 'meet.jit.si',
      auth: { mode: 'cognito', domain: COGNITO.replace('https://', ''), client_id: 'test-client', redirect_uri: redirectUri },
    }),
  }));
  const authorizations = [];
  const exchanges = [];
  await context.route(`${COGNITO}/oauth2/authorize?**`, (route) => {
    const q = new URL(route.request().url()).searchParams;
    authorizations.push(Object.fromEntries(q));
    return route.fulfill({ status: 302, headers: { location: `${redirectUri}?code=code-${authorizations.length}&state=${q.get('state')}` } });
  });
  await context.route(`${COGNITO}/oauth2/token`, (route) => {
    const form = new URLSearchParams(route.request().postData());
    exchanges.push(Object.fromEntries(form));
    return route.fulfill({
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': server.base },
      body: JSON.stringify({ id_token: idToken, access_token: 'access', refresh_token: 'refresh', expires_in: 3600, token_type: 'Bearer' }),
    });
  });

  // Opening a signed-in page starts the hosted UI sign-in and comes back to it.
  await page.goto('/notifications/');
  await page.waitForURL('**/notifications/');
  await page.locator('h1', { hasText: 'Notifications' }).waitFor();
  assert.equal(authorizations.length, 1);
  const a = authorizations[0];
  assert.equal(a.response_type, 'code');
  assert.equal(a.client_id, 'test-client');
  assert.equal(a.redirect_uri, redirectUri);
  assert.equal(a.code_challenge_method, 'S256');
  assert.match(a.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(a.state.length >= 16);
  assert.match(a.scope, /openid/);
  assert.equal(exchanges.length, 1);
  const x = exchanges[0];
  assert.equal(x.grant_type, 'authorization_code');
  assert.equal(x.code, 'code-1');
  assert.equal(x.client_id, 'test-client');
  assert.equal(x.redirect_uri, redirectUri);
  assert.equal(createHash('sha256').update(x.code_verifier).digest('base64url'), a.code_challenge);
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar');

  // No token (or any part of it) in Web Storage or cookies.
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
  assert.ok(!stored.includes(idToken.split('.')[1]), `tokens leaked into storage: ${stored}`);
  assert.ok(!stored.includes('refresh'), 'the refresh token leaked into storage');

  // In-app navigation keeps the in-memory session: no second trip to the hosted UI.
  await page.getByRole('link', { name: 'Appointments' }).click();
  await page.waitForURL('**/appointments/');
  await page.locator('#book-doctor').waitFor();
  assert.equal(authorizations.length, 1);

  // A reload forgets memory, so the hosted UI is asked again (its own session answers at once).
  await page.reload();
  await page.waitForURL('**/appointments/');
  await page.locator('#book-doctor').waitFor();
  assert.equal(authorizations.length, 2);

  // A stale or forged redirect is refused.
  await page.goto('/?code=forged&state=not-ours');
  await page.locator('.alert-error', { hasText: /stale|not started here/ }).waitFor();
  assert.equal(exchanges.length, 2);
  assert.deepEqual(person.problems, []);
  await person.close();
});
