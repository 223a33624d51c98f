// The video page's other paths: the Jitsi script failing to load (error, Retry, external link),
// a Jitsi token and JaaS room handed out by the API, a room that is not open yet, a cancelled
// appointment, and the sign-in it needs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.js';
import { launch, newPerson } from './support/browser.js';
import { DOCTOR, PATIENT, bookViaApi, lastMeeting, signIn } from './support/app.js';

describe('the video page', () => {
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

  /** A signed-in patient whose page answers /join as an open room would (the window is the API's business). */
  async function patientInOpenRoom(appointment, joinAnswer, options = {}) {
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId, ...options });
    person.page.setDefaultTimeout(10_000);
    await person.page.route(`**/api/appointments/${appointment.id}/join`, (route) => route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        appointment_id: appointment.id,
        domain: 'meet.jit.si',
        room: appointment.room_name,
        display_name: PATIENT.name,
        moderator: false,
        token: null,
        starts_at: appointment.start,
        ends_at: appointment.end,
        ...joinAnswer,
      }),
    }));
    await signIn(person.page, PATIENT);
    return person;
  }

  test('when the Jitsi script cannot load it shows the error, the meeting link and a Retry that recovers', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const person = await patientInOpenRoom(appointment, {}, { jitsi: 'fail' });
    const { page } = person;
    await page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    const problem = page.locator('.call-problem');
    await problem.getByRole('heading', { name: 'The video call could not be loaded' }).waitFor();
    assert.match(await problem.innerText(), /meet\.jit\.si could not be reached/);
    const external = problem.getByRole('link', { name: /Open the meeting in a new tab/ });
    assert.equal(await external.getAttribute('href'), appointment.meeting_url);
    assert.equal(await external.getAttribute('target'), '_blank');
    assert.equal(await external.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await page.locator('.stage').isVisible(), false);
    // Keyboard users land on Retry.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Retry');
    assert.equal(await page.evaluate(() => window.__jitsi), undefined);

    person.setJitsi('stand-in');
    await page.keyboard.press('Enter');
    const meeting = await lastMeeting(page);
    assert.equal(meeting.options.roomName, appointment.room_name);
    assert.equal(await problem.isVisible(), false);
    assert.equal(await page.locator('.stage').isVisible(), true);
    assert.deepEqual(person.problems, []);
    await person.close();
  });

  test('a Jitsi token and a JaaS room from the API are used as given', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const room = `vpaas-magic-cookie-0123456789abcdef/${appointment.room_name}`;
    const person = await patientInOpenRoom(appointment, { domain: '8x8.vc', room, token: 'header.payload.signature' });
    await person.page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    const meeting = await lastMeeting(person.page);
    assert.equal(meeting.domain, '8x8.vc');
    assert.deepEqual(person.jitsiScripts, ['https://8x8.vc/external_api.js']);
    assert.equal(meeting.options.roomName, room);
    assert.equal(meeting.options.jwt, 'header.payload.signature');
    assert.equal(meeting.options.userInfo.displayName, PATIENT.name);
    assert.deepEqual(person.problems, []);
    assert.deepEqual(await person.cspViolations(), []);
    await person.close();
  });

  test('before the join window the page says when the room opens, in the user’s time zone', async (t) => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const join = await server.api(patientToken, 'GET', `/api/appointments/${appointment.id}/join`);
    if (join.status === 200) t.diagnostic('the room of the first free slot is already open; checked the open path instead');
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    person.page.setDefaultTimeout(10_000);
    await signIn(person.page, PATIENT);
    await person.page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    if (join.status === 403) {
      const problem = person.page.locator('.call-problem');
      await problem.getByRole('heading', { name: 'The room is not open yet' }).waitFor();
      const opens = new Intl.DateTimeFormat('en-GB', { timeZone: PATIENT.timezoneId, hour: '2-digit', minute: '2-digit' })
        .format(new Date(join.body.opens_at));
      assert.match(await problem.innerText(), new RegExp(`opens at .*${opens}`));
      assert.ok(await problem.getByRole('button', { name: 'Retry' }).isVisible());
      assert.equal(await problem.getByRole('link', { name: 'Back to my appointments' }).getAttribute('href'), '/appointments/');
      assert.equal(await person.page.evaluate(() => window.__jitsi), undefined, 'no meeting is created');
    } else {
      assert.equal(join.status, 200, `GET /join answered ${join.status}`);
      await lastMeeting(person.page);
    }
    await person.close();
  });

  test('a cancelled appointment cannot be joined', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const cancelled = await server.api(patientToken, 'POST', `/api/appointments/${appointment.id}/cancel`, {});
    assert.equal(cancelled.status, 200);
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    await signIn(person.page, PATIENT);
    await person.page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    await person.page.locator('.call-problem').getByRole('heading', { name: 'This consultation was cancelled' }).waitFor();
    assert.equal(await person.page.evaluate(() => window.__jitsi), undefined);
    await person.close();
  });

  test('someone else’s appointment is not found', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const person = await newPerson(browser, server, { timezoneId: 'Europe/Berlin' });
    await signIn(person.page, { id: 'patient-schmidt' }, {});
    await person.page.goto(`/video/${appointment.room_name}?appointment=${appointment.id}`);
    await person.page.locator('.call-problem').getByRole('heading', { name: 'Appointment not found' }).waitFor();
    assert.equal(await person.page.evaluate(() => window.__jitsi), undefined);
    await person.close();
  });

  test('the video page needs sign-in and comes back to the room afterwards', async () => {
    const appointment = await bookViaApi(server, patientToken, DOCTOR.id);
    const person = await patientInOpenRoom(appointment, {});
    await person.page.evaluate(() => sessionStorage.clear());
    const path = `/video/${appointment.room_name}?appointment=${appointment.id}`;
    await person.page.goto(path);
    await person.page.waitForURL(`**/?next=${encodeURIComponent(path)}`);
    await person.page.locator(`button[data-user-id="${PATIENT.id}"]`).click();
    await person.page.waitForURL(`**${path}`);
    const meeting = await lastMeeting(person.page);
    assert.equal(meeting.options.roomName, appointment.room_name);
    await person.close();
  });

  test('a malformed room in the address is refused', async () => {
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    await signIn(person.page, PATIENT);
    await person.page.goto('/video/not%20a%20room');
    await person.page.locator('.call-problem').getByRole('heading', { name: 'This video link is not valid' }).waitFor();
    await person.close();
  });
});
