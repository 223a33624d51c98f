// What the appointment cards and forms offer, and when: Join until the room closes, Cancel and
// Reschedule only before the start, reschedule conflicts told apart, booking and moving locked
// while their request is in flight, and focus and ARIA that keep keyboard users oriented.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.js';
import { eventually, launch, newPerson } from './support/browser.js';
import { DOCTOR, PATIENT, bookViaApi, signIn } from './support/app.js';

const MINUTE = 60_000;

describe('appointments and schedule', () => {
  let server;
  let browser;
  let patientToken;

  before(async () => {
    server = await startServer();
    browser = await launch();
    patientToken = await server.login(PATIENT.id);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function person(user) {
    const p = await newPerson(browser, server, { timezoneId: user.timezoneId });
    p.page.setDefaultTimeout(10_000);
    await signIn(p.page, user);
    return p;
  }

  /** Holds every request `matches` accepts until `release()`; `count()` says how many came. */
  async function hold(page, matches) {
    let release;
    const held = new Promise((r) => { release = r; });
    let count = 0;
    await page.route((u) => matches(u), async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      count += 1;
      await held;
      return route.fallback();
    });
    return { release: () => release(), count: () => count };
  }

  test('Join stays until the room closes (end + 30 min); Cancel and Reschedule go once it starts', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const start = Date.parse(appointment.start);
    const end = Date.parse(appointment.end);
    const patient = await person(PATIENT);
    const doctor = await person(DOCTOR);
    const card = (p) => p.page.locator(`#appointment-${appointment.id}`);
    const button = (p, name) => card(p).getByRole('button', { name, exact: true });
    const join = (p) => card(p).getByRole('link', { name: 'Join Video Consultation' });

    async function at(time) {
      for (const [p, home] of [[patient, '/appointments/'], [doctor, '/schedule/']]) {
        await p.page.clock.setFixedTime(time);
        await p.page.goto(home);
        await card(p).waitFor({ state: 'attached' }); // past consultations are folded on the schedule
      }
    }

    await at(start - MINUTE);
    assert.equal(await button(patient, 'Reschedule').count(), 1);
    assert.equal(await button(patient, 'Cancel').count(), 1);
    assert.equal(await button(doctor, 'Cancel').count(), 1);

    for (const [time, label] of [[start + 5 * MINUTE, 'under way'], [end + 10 * MINUTE, 'after the end, room still open']]) {
      await at(time);
      for (const p of [patient, doctor]) {
        assert.equal(await join(p).count(), 1, `Join ${label}`);
        assert.equal(await button(p, 'Cancel').count(), 0, `no Cancel ${label}`);
        assert.equal(await button(p, 'Reschedule').count(), 0, `no Reschedule ${label}`);
        assert.match(await card(p).locator('.status').innerText(), /In progress/i);
        assert.match(await card(p).innerText(), /video room is open until/);
      }
      assert.equal(await patient.page.locator(`#upcoming-list #appointment-${appointment.id}`).count(), 1, `upcoming ${label}`);
      assert.equal(await doctor.page.locator(`details.earlier #appointment-${appointment.id}`).count(), 0, `not folded ${label}`);
    }

    await at(end + 31 * MINUTE);
    for (const p of [patient, doctor]) assert.equal(await join(p).count(), 0, 'no Join once the room has closed');
    assert.equal(await patient.page.locator(`#past-list #appointment-${appointment.id}`).count(), 1);
    assert.equal(await doctor.page.locator(`details.earlier #appointment-${appointment.id}`).count(), 1);
    assert.deepEqual([...patient.problems, ...doctor.problems], []);
    await patient.close();
    await doctor.close();
  });

  test('a reschedule conflict says what happened; only a taken slot reloads the times', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const p = await person(PATIENT);
    const { page } = p;
    const card = page.locator(`#appointment-${appointment.id}`);
    await card.getByRole('button', { name: 'Reschedule' }).click();
    const panel = card.locator('.appt-panel');
    const first = panel.locator('.slot-input').first();
    await first.waitFor({ state: 'attached' });
    const wanted = await first.getAttribute('value');

    // Someone else books that time first.
    const other = await server.login('patient-schmidt');
    const taken = await server.api(other, 'POST', '/api/appointments', { doctor_id: DOCTOR.id, start: wanted });
    assert.equal(taken.status, 201);
    await panel.locator('.slot').first().click();
    await panel.getByRole('button', { name: 'Move appointment' }).click();
    await panel.locator('.alert-error', { hasText: 'That time was just taken' }).waitFor();
    await eventually(async () => (await panel.locator(`.slot-input[value="${wanted}"]`).count()) === 0
      && (await panel.locator('.slot-input').count()) > 0, { message: 'the taken time to leave the reloaded times' });

    // The appointment is cancelled meanwhile: the API's own words, not "just taken".
    await panel.locator('.slot').first().click();
    const next = await panel.locator('.slot-input:checked').getAttribute('value');
    assert.equal((await server.api(patientToken, 'POST', `/api/appointments/${appointment.id}/cancel`, {})).status, 200);
    const refused = await server.api(patientToken, 'POST', `/api/appointments/${appointment.id}/reschedule`, { start: next });
    assert.equal(refused.status, 409);
    assert.notEqual(refused.body.type, '/problems/slot-taken');
    await panel.getByRole('button', { name: 'Move appointment' }).click();
    const alert = panel.locator('.alert-error');
    await alert.waitFor();
    assert.equal(await alert.innerText(), refused.body.detail);
    assert.equal(await panel.locator(`.slot-input[value="${next}"]`).count(), 1, 'the times are not reloaded');
    await p.close();
  });

  test('booking and moving are locked until their request settles: one request each', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const p = await person(PATIENT);
    const { page } = p;

    const booking = await hold(page, (u) => u.pathname === '/api/appointments');
    await page.locator('#book-doctor').selectOption(DOCTOR.id);
    await page.locator('.book-form .slot').first().click();
    await page.getByRole('button', { name: 'Book appointment' }).click();
    await eventually(() => booking.count() === 1, { message: 'the booking request' });
    assert.equal(await page.locator('#book-doctor').isDisabled(), true);
    assert.equal(await page.locator('#book-reason').isDisabled(), true);
    for (const input of await page.locator('.book-form .slot-input').all()) assert.equal(await input.isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Book appointment' }).isDisabled(), true);
    await page.evaluate(() => document.querySelector('.book-form').requestSubmit());
    booking.release();
    await page.locator('.alert-success', { hasText: 'Booked' }).waitFor();
    assert.equal(booking.count(), 1, 'one booking');
    await eventually(async () => !(await page.locator('#book-doctor').isDisabled()), { message: 'the form unlocked' });

    const card = page.locator(`#appointment-${appointment.id}`);
    const moving = await hold(page, (u) => u.pathname === `/api/appointments/${appointment.id}/reschedule`);
    await card.getByRole('button', { name: 'Reschedule' }).click();
    const panel = card.locator('.appt-panel');
    await panel.locator('.slot').first().click();
    await panel.getByRole('button', { name: 'Move appointment' }).click();
    await eventually(() => moving.count() === 1, { message: 'the reschedule request' });
    for (const input of await panel.locator('.slot-input').all()) assert.equal(await input.isDisabled(), true);
    assert.equal(await panel.getByRole('button', { name: 'Move appointment' }).isDisabled(), true);
    await page.evaluate(() => document.querySelector('.appt-panel').requestSubmit());
    moving.release();
    await page.locator('.alert-success', { hasText: 'Moved' }).waitFor();
    assert.equal(moving.count(), 1, 'one move');
    assert.deepEqual(p.problems, []);
    await p.close();
  });

  test('Reschedule announces its panel, dates stop at the booking horizon, focus survives Cancel', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const p = await person(PATIENT);
    const { page } = p;
    const card = page.locator(`#appointment-${appointment.id}`);
    const toggle = card.getByRole('button', { name: 'Reschedule' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    const controls = await toggle.getAttribute('aria-controls');
    assert.ok(controls);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.locator(`#${controls}`).count(), 1, 'aria-controls names the panel');

    // The API offers slots up to 90 days ahead (SlotRules::MAX_DAYS_AHEAD).
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: PATIENT.timezoneId }).format(new Date());
    const horizon = new Date(`${today}T12:00:00Z`);
    horizon.setUTCDate(horizon.getUTCDate() + 90);
    assert.equal(await page.locator('.book-form input[type="date"]').getAttribute('max'), horizon.toISOString().slice(0, 10));

    await card.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('button', { name: 'Cancel appointment' }).click();
    const outcome = page.locator('.page-status .alert-success', { hasText: 'Cancelled' });
    await outcome.waitFor();
    await eventually(() => outcome.evaluate((el) => el === document.activeElement), { message: 'focus on the outcome' });
    await p.close();
  });
});
