// The whole story in a real browser against the real local server: a patient books, both people
// see it (appointments, schedule, notifications), both join the video room, and leaving the call
// takes each back to their own page.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.js';
import { eventually, launch, newPerson } from './support/browser.js';
import { DOCTOR, PATIENT, emitJitsi, lastMeeting, openRoom, signIn, bookFirstFreeSlot, unreadOnBell } from './support/app.js';

const JITSI_EVENTS = [
  'participantJoined', 'participantLeft', 'videoConferenceJoined', 'videoConferenceLeft',
  'audioMuteStatusChanged', 'videoMuteStatusChanged', 'raiseHandUpdated', 'errorOccurred', 'readyToClose',
];

describe('a video consultation from booking to leaving the call', () => {
  let server;
  let browser;
  let patient;
  let doctor;
  let appointment; // as the API returns it
  const callEvents = []; // {who, event} as the pages report them

  before(async () => {
    server = await startServer();
    browser = await launch();
    patient = await newPerson(browser, server, { timezoneId: PATIENT.timezoneId });
    doctor = await newPerson(browser, server, { timezoneId: DOCTOR.timezoneId });
    for (const [who, person] of [['patient', patient], ['doctor', doctor]]) {
      person.page.setDefaultTimeout(10_000);
      person.page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().endsWith('/call-events')) callEvents.push({ who, ...r.postDataJSON() });
      });
    }
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the patient books a consultation and sees it under Upcoming', async () => {
    await signIn(patient.page, PATIENT);
    const id = await bookFirstFreeSlot(patient.page, { doctorId: DOCTOR.id, reason: 'Follow-up on blood pressure' });
    const token = await server.login(PATIENT.id);
    appointment = (await server.api(token, 'GET', `/api/appointments/${id}`)).body;
    assert.equal(appointment.status, 'booked');
    assert.equal(appointment.reason, 'Follow-up on blood pressure');

    const card = patient.page.locator(`#appointment-${id}`);
    assert.match(await card.innerText(), /Dr\. Amara Okafor/);
    assert.match(await card.innerText(), /Booked/i);
    // Shown in the patient's own time zone (Chicago), from the UTC start the API holds.
    const expected = new Intl.DateTimeFormat('en-GB', { timeZone: PATIENT.timezoneId, hour: '2-digit', minute: '2-digit' })
      .format(new Date(appointment.start));
    assert.equal(await card.locator('time').first().innerText(), expected);
    const join = card.getByRole('link', { name: 'Join Video Consultation' });
    assert.equal(await join.getAttribute('href'), `/video/${appointment.room_name}?appointment=${id}`);
    // The slot is gone from the picker once booked.
    assert.equal(await patient.page.locator(`.slot-input[value="${appointment.start}"]`).count(), 0);
  });

  test('the doctor sees it on the schedule with the patient name', async () => {
    await signIn(doctor.page, DOCTOR);
    const card = doctor.page.locator(`#appointment-${appointment.id}`);
    await card.waitFor();
    assert.match(await card.innerText(), /Jordan Rivera/);
    assert.match(await card.innerText(), /Follow-up on blood pressure/);
    const expected = new Intl.DateTimeFormat('en-GB', { timeZone: DOCTOR.timezoneId, hour: '2-digit', minute: '2-digit' })
      .format(new Date(appointment.start));
    assert.equal(await card.locator('time').first().innerText(), expected);
    assert.equal(
      await card.getByRole('link', { name: 'Join Video Consultation' }).getAttribute('href'),
      `/video/${appointment.room_name}?appointment=${appointment.id}`,
    );
  });

  test('both see the notifications, with their actions, and can mark them read', async () => {
    for (const [person, home] of [[patient, '/appointments/'], [doctor, '/schedule/']]) {
      const { page } = person;
      // The bell counts unread notifications on every signed-in page.
      await eventually(async () => {
        await page.goto(home);
        return (await unreadOnBell(page)) >= 1;
      }, { timeout: 20_000, message: `an unread count on the bell at ${home}` });
      await page.locator('.bell').click();
      await page.waitForURL('**/notifications/');
      const created = page.locator('.notif[data-type="appointment_created"]');
      await created.first().waitFor();
      const view = created.first().getByRole('link', { name: 'View Appointment' });
      assert.equal(await view.getAttribute('href'), `${home}?id=${appointment.id}`);
      const ready = page.locator('.notif[data-type="video_call_ready"]').first();
      assert.equal(
        await ready.getByRole('link', { name: 'Join Video Call' }).getAttribute('href'),
        `/video/${appointment.room_name}?appointment=${appointment.id}`,
      );

      // Mark as read lowers the bell's count.
      const before = await unreadOnBell(page);
      await ready.getByRole('button', { name: 'Mark as read' }).click();
      await eventually(async () => Number(await page.locator('.bell').getAttribute('data-unread')) === before - 1,
        { message: 'the unread count to drop' });
      assert.equal(await ready.locator('.mark-read').count(), 0);

      // Following an action opens the appointment, highlighted.
      await view.click();
      await page.waitForURL(`**${home}?id=${appointment.id}`);
      await page.locator(`#appointment-${appointment.id}.highlight`).waitFor();
    }
  });

  test('both join: the video page builds the meeting with the room, their name and MediChain options', async () => {
    const patientJoin = await openRoom(server, await server.login(PATIENT.id), appointment.id);
    const doctorJoin = await openRoom(server, await server.login(DOCTOR.id), appointment.id);

    for (const [person, home, join, name] of [
      [patient, '/appointments/', patientJoin, 'Jordan Rivera'],
      [doctor, '/schedule/', doctorJoin, 'Dr. Amara Okafor'],
    ]) {
      const { page } = person;
      await page.goto(home);
      await page.locator(`#appointment-${appointment.id}`).getByRole('link', { name: 'Join Video Consultation' }).click();
      await page.waitForURL(`**/video/${appointment.room_name}?appointment=${appointment.id}`);
      const meeting = await lastMeeting(page);
      const o = meeting.options;
      assert.equal(meeting.domain, join?.domain ?? 'meet.jit.si');
      assert.equal(person.jitsiScripts.at(-1), `https://${meeting.domain}/external_api.js`);
      assert.equal(o.roomName, join?.room ?? appointment.room_name);
      assert.equal(o.userInfo.displayName, join?.display_name ?? name);
      assert.equal(o.userInfo.displayName, name);
      if (join?.token) assert.equal(o.jwt, join.token);
      else assert.equal('jwt' in o, false);
      assert.equal(meeting.parentNodeId, 'meeting');
      assert.equal(meeting.hasOnload, true);
      assert.deepEqual(o.configOverwrite.prejoinConfig, { enabled: true });
      assert.equal(o.configOverwrite.startWithAudioMuted, false);
      assert.equal(o.configOverwrite.startWithVideoMuted, false);
      assert.deepEqual(o.configOverwrite.p2p, { enabled: true });
      assert.equal(o.interfaceConfigOverwrite.APP_NAME, 'MediChain');
      assert.equal(o.interfaceConfigOverwrite.SHOW_JITSI_WATERMARK, false);
      assert.equal(o.interfaceConfigOverwrite.SHOW_WATERMARK_FOR_GUESTS, false);
      assert.equal(o.interfaceConfigOverwrite.SHOW_BRAND_WATERMARK, false);
      for (const button of ['microphone', 'camera', 'desktop', 'chat', 'raisehand', 'participants-pane', 'tileview', 'settings', 'hangup']) {
        assert.ok(o.configOverwrite.toolbarButtons.includes(button), `toolbar has ${button}`);
      }
      assert.deepEqual(o.interfaceConfigOverwrite.TOOLBAR_BUTTONS, o.configOverwrite.toolbarButtons);
      for (const event of JITSI_EVENTS) assert.ok(meeting.events.includes(event), `listens to ${event}`);

      // A spinner until the conference is joined (the prejoin screen is the user's to pass).
      const spin = page.locator('.call-status .spinner');
      assert.equal(await spin.isVisible(), true);
      await emitJitsi(page, 'videoConferenceJoined', { id: `${name}-local`, displayName: name, roomName: o.roomName });
      await page.locator('.call-status', { hasText: 'You are in the consultation.' }).waitFor();
      assert.equal(await spin.isVisible(), false);
      await eventually(() => callEvents.some((e) => e.who === (home === '/schedule/' ? 'doctor' : 'patient') && e.event === 'joined'),
        { message: 'a "joined" call event' });
    }

    // What each page shows as the call goes on.
    const { page } = patient;
    await emitJitsi(page, 'participantJoined', { id: 'remote-1', displayName: 'Dr. Amara Okafor' });
    await page.locator('.call-status', { hasText: 'Dr. Amara Okafor joined.' }).waitFor();
    await page.locator('.indicator-participants', { hasText: '2 in call' }).waitFor();
    await emitJitsi(page, 'audioMuteStatusChanged', { muted: true });
    await emitJitsi(page, 'videoMuteStatusChanged', { muted: true });
    await page.locator('.indicator-mic', { hasText: 'Microphone off' }).waitFor();
    await page.locator('.indicator-camera', { hasText: 'Camera off' }).waitFor();
    await emitJitsi(page, 'audioMuteStatusChanged', { muted: false });
    await page.locator('.indicator-mic').waitFor({ state: 'detached' });
    await emitJitsi(page, 'raiseHandUpdated', { id: 'remote-1', handRaised: true });
    await page.locator('.call-status', { hasText: 'Dr. Amara Okafor raised a hand.' }).waitFor();
    await emitJitsi(page, 'errorOccurred', { message: 'Connection unstable', isFatal: false });
    await page.locator('.call-status', { hasText: 'Warning: Connection unstable' }).waitFor();
    await emitJitsi(page, 'participantLeft', { id: 'remote-1' });
    await page.locator('.indicator-participants', { hasText: '1 in call' }).waitFor();
  });

  test('readyToClose disposes the meeting and returns the patient to their appointments', async () => {
    const { page } = patient;
    await emitJitsi(page, 'videoConferenceLeft', { roomName: appointment.room_name });
    await emitJitsi(page, 'readyToClose');
    await page.waitForURL('**/appointments/');
    assert.equal(await page.evaluate(() => window.__jitsi.instances.at(-1).disposed), true);
    assert.equal(await page.locator('.jitsi-stand-in').count(), 0);
    assert.deepEqual(callEvents.filter((e) => e.who === 'patient').map((e) => e.event), ['joined', 'left']);
  });

  test('Exit disposes the meeting and returns the doctor to the schedule', async () => {
    const { page } = doctor;
    await page.getByRole('button', { name: 'Exit' }).click();
    await page.waitForURL('**/schedule/');
    assert.equal(await page.evaluate(() => window.__jitsi.instances.at(-1).disposed), true);
    assert.deepEqual(callEvents.filter((e) => e.who === 'doctor').map((e) => e.event), ['joined', 'left']);
  });

  test('nothing broke along the way: no page errors, no CSP violations, no outside requests', async () => {
    for (const person of [patient, doctor]) {
      assert.deepEqual(person.problems, []);
      assert.deepEqual(await person.cspViolations(), []);
    }
  });
});
