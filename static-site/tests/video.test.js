// The video page's other paths: the Jitsi script failing to load (error, Retry, external link),
// a Jitsi token and JaaS room handed out by the API, a room that is not open yet or closed, a
// cancelled appointment, bare room links, the doctor's lobby, leaving, and the sign-in it needs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.js';
import { launch, newPerson } from './support/browser.js';
import { DOCTOR, PATIENT, bookViaApi, emitJitsi, lastMeeting, signIn } from './support/app.js';

describe('the video page', () => {
  let server;
  let browser;
  let patientToken;
  let booked; // one appointment for the tests that only look at it (a patient may hold 10 upcoming)

  before(async () => {
    server = await startServer();
    browser = await launch();
    patientToken = await server.login(PATIENT.id);
    booked = await bookViaApi(server, patientToken, DOCTOR.id);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A signed-in patient whose page answers /join as an open room would (the window is the API's business). */
  function patientInOpenRoom(appointment, joinAnswer, options = {}) {
    return inOpenRoom(PATIENT, appointment, joinAnswer, options);
  }

  /** `user` signed in, with /join of `appointment` answered as an open room would be. */
  async function inOpenRoom(user, appointment, joinAnswer, options = {}) {
    const person = await newPerson(browser, server, { timezoneId: user.timezoneId, ...options });
    person.page.setDefaultTimeout(10_000);
    await person.page.route(`**/api/appointments/${appointment.id}/join`, (route) => route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        appointment_id: appointment.id,
        domain: 'meet.jit.si',
        room: appointment.room_name,
        display_name: user === DOCTOR ? `Dr. ${DOCTOR.name}` : user.name,
        moderator: user === DOCTOR,
        token: null,
        starts_at: appointment.start,
        ends_at: appointment.end,
        ...joinAnswer,
      }),
    }));
    await signIn(person.page, user);
    return person;
  }

  /** `user` signed in, with /join of `appointment` answered by the problem the API sends outside the window. */
  async function outsideTheWindow(user, appointment, kind, detail) {
    const person = await newPerson(browser, server, { timezoneId: user.timezoneId });
    person.page.setDefaultTimeout(10_000);
    const opensAt = new Date(Date.parse(appointment.start) - 15 * 60_000).toISOString();
    const closesAt = new Date(Date.parse(appointment.end) + 30 * 60_000).toISOString();
    await person.page.route(`**/api/appointments/${appointment.id}/join`, (route) => route.fulfill({
      status: 403,
      contentType: 'application/problem+json',
      body: JSON.stringify({
        type: `/problems/${kind}`, title: 'Forbidden', status: 403, detail: detail({ opensAt, closesAt }), opens_at: opensAt, closes_at: closesAt,
      }),
    }));
    await signIn(person.page, user);
    return { person, opensAt, closesAt };
  }

  /** "Mon, 7 Dec 2026, 01:45 CST": how the page writes an instant in `timeZone`. */
  function local(instant, timeZone) {
    const day = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(instant));
    const time = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(new Date(instant));
    const zone = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' }).formatToParts(new Date(instant))
      .find((p) => p.type === 'timeZoneName').value;
    return `${day}, ${time} ${zone}`;
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

  test('a room with a broken percent-escape is refused, typed or after sign-in', async () => {
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    person.page.setDefaultTimeout(10_000);
    const { page } = person;
    await signIn(page, PATIENT);
    await page.goto('/video/%E0');
    await page.locator('.call-problem').getByRole('heading', { name: 'This video link is not valid' }).waitFor();

    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`/?next=${encodeURIComponent('/video/%E0')}`);
    await page.locator(`button[data-user-id="${PATIENT.id}"]`).click();
    await page.waitForURL((u) => u.pathname !== '/');
    await page.locator('.call-problem').getByRole('heading', { name: 'This video link is not valid' }).waitFor();
    assert.equal(await page.evaluate(() => window.__jitsi), undefined);
    assert.deepEqual(person.problems, []);
    await person.close();
  });

  test('a bare room link opens only a room of one’s own appointments', async () => {
    const appointment = booked;
    const stranger = await newPerson(browser, server, { timezoneId: 'Europe/Berlin' });
    stranger.page.setDefaultTimeout(10_000);
    await signIn(stranger.page, { id: 'patient-schmidt' });
    await stranger.page.goto(`/video/${appointment.room_name}`);
    await stranger.page.locator('.call-problem').getByRole('heading', { name: 'Appointment not found' }).waitFor();
    assert.equal(await stranger.page.evaluate(() => window.__jitsi), undefined, 'no meeting for someone else’s room');
    assert.deepEqual(stranger.jitsiScripts, []);
    await stranger.close();
  });

  test('a bare room link whose appointments cannot be loaded offers Retry, not the room', async () => {
    const appointment = booked;
    const person = await patientInOpenRoom(appointment, {});
    const { page } = person;
    const isList = (u) => u.pathname === '/api/appointments';
    await page.route(isList, (route) => route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: '/problems/unavailable', title: 'Service Unavailable', status: 503, detail: 'The service is busy. Please retry in a moment.' }),
    }));
    await page.goto(`/video/${appointment.room_name}`);
    const problem = page.locator('.call-problem');
    await problem.getByRole('heading', { name: 'The consultation could not be opened' }).waitFor();
    assert.match(await problem.innerText(), /The service is busy/);
    assert.equal(await page.evaluate(() => window.__jitsi), undefined, 'no meeting while the access check failed');

    await page.unroute(isList);
    await problem.getByRole('button', { name: 'Retry' }).click();
    const meeting = await lastMeeting(page);
    assert.equal(meeting.options.roomName, appointment.room_name);
    await person.close();
  });

  test('where the join route does not exist, one’s own room falls back to config.json', async () => {
    const appointment = booked;
    const person = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    person.page.setDefaultTimeout(10_000);
    await person.page.route(`**/api/appointments/${appointment.id}/join`, (route) => route.fulfill({
      status: 404,
      contentType: 'application/problem+json',
      body: JSON.stringify({ type: '/problems/not-found', title: 'Not Found', status: 404, detail: 'route not found' }),
    }));
    await signIn(person.page, PATIENT);
    await person.page.goto(`/video/${appointment.room_name}`);
    const meeting = await lastMeeting(person.page);
    assert.equal(meeting.domain, 'meet.jit.si');
    assert.equal(meeting.options.roomName, appointment.room_name);
    assert.equal(meeting.options.userInfo.displayName, PATIENT.name);
    assert.equal('jwt' in meeting.options, false);
    await person.close();
  });

  test('the doctor’s page turns the lobby on; the patient’s does not', async () => {
    const appointment = booked;
    const path = `/video/${appointment.room_name}?appointment=${appointment.id}`;
    const commands = (page) => page.evaluate(() => window.__jitsi.instances.at(-1).commands);

    const doctor = await inOpenRoom(DOCTOR, appointment, { lobby: true, token: 'header.payload.signature' });
    await doctor.page.goto(path);
    await lastMeeting(doctor.page);
    assert.deepEqual(await commands(doctor.page), [], 'not before the conference is joined');
    await emitJitsi(doctor.page, 'videoConferenceJoined', { id: 'doctor-local' });
    assert.deepEqual(await commands(doctor.page), [['toggleLobby', true]]);
    // Jitsi may grant the moderator role just after joining: the lobby is (re)enabled then too.
    await emitJitsi(doctor.page, 'participantRoleChanged', { id: 'doctor-local', role: 'moderator' });
    assert.deepEqual(await commands(doctor.page), [['toggleLobby', true], ['toggleLobby', true]]);
    await doctor.close();

    const patient = await inOpenRoom(PATIENT, appointment, { lobby: true, token: 'header.payload.signature' });
    await patient.page.goto(path);
    await lastMeeting(patient.page);
    await emitJitsi(patient.page, 'videoConferenceJoined', { id: 'patient-local' });
    await emitJitsi(patient.page, 'participantRoleChanged', { id: 'patient-local', role: 'moderator' });
    assert.deepEqual(await commands(patient.page), []);
    await patient.close();

    // Public Jitsi (no tokens, lobby false): nobody can rely on being moderator, so no lobby.
    const publicDoctor = await inOpenRoom(DOCTOR, appointment, { lobby: false });
    await publicDoctor.page.goto(path);
    await lastMeeting(publicDoctor.page);
    await emitJitsi(publicDoctor.page, 'videoConferenceJoined', { id: 'doctor-local' });
    assert.deepEqual(await commands(publicDoctor.page), []);
    await publicDoctor.close();
  });

  test('outside the window the times are in the user’s zone; a closed room offers no Retry', async () => {
    const appointment = booked;
    const path = `/video/${appointment.room_name}?appointment=${appointment.id}`;

    const early = await outsideTheWindow(PATIENT, appointment, 'room-not-open', ({ opensAt }) => `The video room opens at ${opensAt}.`);
    await early.person.page.goto(path);
    let problem = early.person.page.locator('.call-problem');
    await problem.getByRole('heading', { name: 'The room is not open yet' }).waitFor();
    assert.match(await problem.innerText(), new RegExp(`opens at ${local(early.opensAt, PATIENT.timezoneId)}\\.`));
    assert.ok(await problem.getByRole('button', { name: 'Retry' }).isVisible());
    await early.person.close();

    const late = await outsideTheWindow(DOCTOR, appointment, 'room-closed', ({ closesAt }) => `The video room closed at ${closesAt}.`);
    await late.person.page.goto(path);
    problem = late.person.page.locator('.call-problem');
    await problem.getByRole('heading', { name: 'The room has closed' }).waitFor();
    const text = await problem.innerText();
    assert.match(text, new RegExp(`closed at ${local(late.closesAt, DOCTOR.timezoneId)}\\.`));
    assert.ok(!text.includes(late.closesAt), 'not the API’s UTC timestamp');
    assert.equal(await problem.getByRole('button', { name: 'Retry' }).count(), 0);
    assert.equal(await problem.getByRole('link', { name: 'Back to my schedule' }).getAttribute('href'), '/schedule/');
    await late.person.close();
  });

  test('after Exit, Back does not re-enter the call', async () => {
    const appointment = booked;
    const person = await patientInOpenRoom(appointment, {});
    const { page } = person;
    await page.goto('/appointments/');
    await page.locator(`#appointment-${appointment.id}`).getByRole('link', { name: 'Join Video Consultation' }).click();
    await page.waitForURL(`**/video/${appointment.room_name}?appointment=${appointment.id}`);
    await lastMeeting(page);
    await page.getByRole('button', { name: 'Exit' }).click();
    await page.waitForURL('**/appointments/');
    await page.goBack();
    await page.locator('h1', { hasText: 'My appointments' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/appointments/');
    assert.equal(await page.evaluate(() => window.__jitsi.instances.length), 1, 'no second meeting');
    await person.close();
  });
});
