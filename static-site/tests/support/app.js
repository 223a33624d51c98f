// Steps a user takes in the app, shared by the browser tests so each test reads like a story.

export const PATIENT = { id: 'patient-rivera', name: 'Jordan Rivera', timezoneId: 'America/Chicago' };
export const DOCTOR = { id: 'doctor-okafor', name: 'Amara Okafor', timezoneId: 'America/New_York' };

/** Signs in on the local demo picker and waits for the role's home page. */
export async function signIn(page, user, { next } = {}) {
  await page.goto(next ? `/?next=${encodeURIComponent(next)}` : '/');
  await page.locator(`button[data-user-id="${user.id}"]`).click();
  await page.waitForURL(next ? `**${next}` : user.id.startsWith('doctor') ? '**/schedule/' : '**/appointments/');
  await page.locator('h1').first().waitFor();
}

/** Books the first free slot of `doctorId` from the booking form; returns the new card's id. */
export async function bookFirstFreeSlot(page, { doctorId, reason }) {
  await page.locator('#book-doctor').selectOption(doctorId);
  const firstSlot = page.locator('.slot-grid .slot').first();
  await firstSlot.waitFor();
  await firstSlot.click();
  if (reason) await page.locator('#book-reason').fill(reason);
  await page.getByRole('button', { name: 'Book appointment' }).click();
  await page.locator('.alert-success').waitFor();
  const card = page.locator('#upcoming-list .appt-card.highlight');
  await card.waitFor();
  return card.getAttribute('data-appointment-id');
}

/** The bell's unread count, once the header has fetched it (the attribute appears with the answer). */
export async function unreadOnBell(page) {
  const bell = page.locator('.bell[data-unread]');
  await bell.waitFor({ state: 'attached' });
  return Number(await bell.getAttribute('data-unread'));
}

/** True when the page can be scrolled sideways (the layout is wider than the viewport). */
export function horizontalOverflow(page) {
  return page.evaluate(() => {
    const el = document.scrollingElement;
    return el.scrollWidth > el.clientWidth ? { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth } : null;
  });
}

/** Books the first free slot from today on via the API (arranging a state, not testing the UI). */
export async function bookViaApi(server, token, doctorId, reason) {
  const today = new Date();
  for (let i = 0; i < 21; i += 1) {
    const date = new Date(today.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    const slots = await server.api(token, 'GET', `/api/doctors/${doctorId}/slots?date=${date}`);
    const slot = slots.body?.slots?.[0];
    if (slot) {
      const r = await server.api(token, 'POST', '/api/appointments', { doctor_id: doctorId, start: slot.start, reason });
      if (r.status !== 201) throw new Error(`booking answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body;
    }
  }
  throw new Error(`no free slot of ${doctorId} in three weeks`);
}

/**
 * Makes the appointment's video room joinable and returns what GET /join answers: when the room
 * is not open yet, the server's dev clock is moved into the join window. Returns null when the
 * deployment has no join route (the page then falls back to config.json).
 */
export async function openRoom(server, token, appointmentId) {
  const path = `/api/appointments/${appointmentId}/join`;
  let join = await server.api(token, 'GET', path);
  if (join.status === 404 && join.body?.detail === 'route not found') return null;
  if (join.status === 403 && join.body?.opens_at) {
    const clock = await server.dev('GET', '/dev/clock');
    if (clock.status !== 200) {
      throw new Error('the room is not open yet and the server has no GET /dev/clock to move time forward');
    }
    const now = Date.parse(typeof clock.body === 'string' ? clock.body : clock.body.now);
    const seconds = Math.ceil((Date.parse(join.body.opens_at) - now) / 1000) + 60;
    const moved = await server.dev('POST', '/dev/clock/advance', { seconds });
    if (moved.status >= 300) throw new Error(`POST /dev/clock/advance answered ${moved.status}`);
    join = await server.api(token, 'GET', path);
  }
  if (join.status !== 200) throw new Error(`GET ${path} answered ${join.status}: ${JSON.stringify(join.body)}`);
  return join.body;
}

/** The last meeting the stand-in constructed on this page. */
export async function lastMeeting(page) {
  await page.waitForFunction(() => window.__jitsi?.instances?.length > 0);
  return page.evaluate(() => window.__jitsi.instances.at(-1));
}

/** Emits a Jitsi event from the stand-in meeting of this page. */
export function emitJitsi(page, event, payload = {}) {
  return page.evaluate(([e, p]) => window.__jitsi.emit(e, p), [event, payload]);
}
