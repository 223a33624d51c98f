// Every page at phone (375 px) and desktop (1280 px) width: a screenshot into tests/artifacts/,
// no horizontal scrolling, tap targets of at least 44 × 44 px on the phone, and keyboard use.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './support/server.js';
import { DESKTOP, PHONE, launch, newPerson } from './support/browser.js';
import { DOCTOR, PATIENT, bookViaApi, emitJitsi, horizontalOverflow, lastMeeting, signIn } from './support/app.js';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');

/** Interactive elements smaller than 44 × 44 px (inline text links in a sentence are exempt). */
function smallTapTargets(page) {
  return page.evaluate(() => [...document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, summary')]
    .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
    .filter((el) => !el.classList.contains('skip-link'))
    .filter((el) => !(el.tagName === 'A' && !el.classList.contains('btn') && el.closest('p')))
    .map((el) => {
      const r = el.getBoundingClientRect();
      return { el: `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 30)}"`, w: Math.round(r.width), h: Math.round(r.height) };
    })
    .filter((t) => t.w < 44 || t.h < 44));
}

describe('layout on a phone and on a desktop', () => {
  let server;
  let browser;
  let appointment;

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    server = await startServer();
    browser = await launch();
    appointment = await bookViaApi(server, await server.login(PATIENT.id), DOCTOR.id, 'Persistent cough for two weeks');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  for (const [label, viewport] of [['375', PHONE], ['1280', DESKTOP]]) {
    test(`every page at ${label} px: screenshot, no horizontal scroll${viewport === PHONE ? ', 44 px tap targets' : ''}`, async () => {
      const shots = [];
      async function check(person, name) {
        const { page } = person;
        const file = path.join(ARTIFACTS, `${name}-${label}.png`);
        await page.evaluate(() => window.scrollTo(0, 0)); // a sticky header mid-page would spoil the shot
        await page.screenshot({ path: file, fullPage: true });
        shots.push(file);
        assert.equal(await horizontalOverflow(page), null, `${name} at ${label} px scrolls sideways`);
        if (viewport === PHONE) assert.deepEqual(await smallTapTargets(page), [], `${name} at ${label} px has small tap targets`);
      }

      const patient = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId, viewport });
      patient.page.setDefaultTimeout(10_000);
      const { page } = patient;
      await page.goto('/');
      await page.locator(`button[data-user-id="${PATIENT.id}"]`).waitFor();
      await check(patient, 'sign-in');

      await page.locator(`button[data-user-id="${PATIENT.id}"]`).click();
      await page.waitForURL('**/appointments/');
      await page.locator(`#appointment-${appointment.id}`).waitFor();
      await page.locator('#book-doctor').selectOption(DOCTOR.id);
      await page.locator('.slot-grid .slot').first().click();
      await check(patient, 'appointments');

      await page.locator(`#appointment-${appointment.id}`).getByRole('button', { name: 'Reschedule' }).click();
      await page.locator('.appt-panel .slot').first().waitFor();
      await check(patient, 'appointments-reschedule');

      await page.locator('.bell').click();
      await page.waitForURL('**/notifications/');
      await page.locator('.notif, .empty, .alert').first().waitFor();
      await check(patient, 'notifications');

      // The video page with a joined meeting (the stand-in draws a placeholder where Jitsi would be).
      await page.route(`**/api/appointments/${appointment.id}/join`, (route) => route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ appointment_id: appointment.id, domain: 'meet.jit.si', room: appointment.room_name, display_name: PATIENT.name, moderator: false, token: null }),
      }));
      await page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
      await lastMeeting(page);
      await check(patient, 'video-loading');
      await emitJitsi(page, 'videoConferenceJoined', { id: 'me', displayName: PATIENT.name });
      await emitJitsi(page, 'participantJoined', { id: 'doc', displayName: 'Dr. Amara Okafor' });
      await emitJitsi(page, 'audioMuteStatusChanged', { muted: true });
      await check(patient, 'video-joined');

      patient.setJitsi('fail');
      await page.goto('/appointments/');
      await page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
      await page.locator('.call-problem .retry').waitFor();
      await check(patient, 'video-error');

      await page.goto('/no-such-page');
      await check(patient, 'not-found');

      const doctor = await newPerson(browser, server, { timezoneId: DOCTOR.timezoneId, viewport });
      doctor.page.setDefaultTimeout(10_000);
      await signIn(doctor.page, DOCTOR);
      await doctor.page.locator(`#appointment-${appointment.id}`).waitFor();
      await check(doctor, 'schedule');

      for (const person of [patient, doctor]) {
        assert.deepEqual(person.problems, []);
        assert.deepEqual(await person.cspViolations(), []);
        await person.close();
      }
      assert.equal(shots.length, 9);
    });
  }

  test('the app can be used with the keyboard alone: sign in, pick a slot, leave a call', async () => {
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId, viewport: PHONE });
    person.page.setDefaultTimeout(10_000);
    const { page } = person;
    await page.goto('/');
    await page.locator(`button[data-user-id="${PATIENT.id}"]`).waitFor();
    // Tab to the patient's button and press Enter.
    for (let i = 0; i < 10; i += 1) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((id) => document.activeElement?.dataset?.userId === id, PATIENT.id)) break;
    }
    await page.keyboard.press('Enter');
    await page.waitForURL('**/appointments/');

    await page.locator('#book-doctor').focus();
    await page.keyboard.press('ArrowDown'); // the first doctor
    await page.locator('.slot-grid .slot-input').first().waitFor({ state: 'attached' });
    await page.locator('.slot-grid .slot-input').first().focus();
    await page.keyboard.press('Space');
    assert.equal(await page.locator('.slot-grid .slot-input:checked').count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Book appointment' }).isEnabled(), true);

    await page.route('**/api/appointments/*/join', (route) => route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ appointment_id: appointment.id, domain: 'meet.jit.si', room: appointment.room_name, display_name: PATIENT.name, moderator: false, token: null }),
    }));
    await page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    await lastMeeting(page);
    await page.getByRole('button', { name: 'Exit' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL('**/appointments/');
    assert.deepEqual(person.problems, []);
    await person.close();
  });
});
