// The doctor's schedule: upcoming consultations grouped by day (in the doctor's time zone) with
// patient names and the Join button; earlier ones folded away below.

import { h, replace, spinner } from '../dom.js';
import { formatDateTime, formatDay, localDate, zoneLabel } from '../format.js';
import { appointmentCard, highlightCard, isChangeable, isJoinable, joinButton, splitUpcoming } from '../appointment-card.js';
import { confirmDialog } from '../confirm-dialog.js';

export function mount({ main, ctx, url }) {
  const highlightId = url.searchParams.get('id');
  const status = h('div', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const body = h('div', { class: 'schedule' }, h('p', { class: 'muted' }, spinner(), ' Loading your schedule…'));
  const zoneNote = h('p', { class: 'lead' }, `Dr. ${ctx.user.name}, your consultations by day.`);
  main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'My schedule'), zoneNote),
    status,
    body);

  let timeZone;

  const say = (message, kind = 'success') => replace(status,
    h('p', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : null, tabindex: '-1' }, message));

  async function cancel(a) {
    const ok = await confirmDialog({
      title: 'Cancel this consultation?',
      message: `${a.patient_name}, ${formatDateTime(a.start, timeZone)}. The patient is notified.`,
      confirmLabel: 'Cancel appointment',
      cancelLabel: 'Keep appointment',
      danger: true,
    });
    if (!ok) return;
    try {
      await ctx.api.cancel(a.id);
      say(`Cancelled the consultation with ${a.patient_name} on ${formatDateTime(a.start, timeZone)}.`);
    } catch (e) {
      say(`The appointment could not be cancelled: ${e.message}`, 'error');
    }
    await load();
    // The card and its button are gone: keep keyboard and screen-reader users on the outcome.
    status.querySelector('p')?.focus();
  }

  function dayGroups(items, now) {
    const days = new Map();
    for (const a of items) {
      const day = localDate(a.start, timeZone);
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(a);
    }
    const today = localDate(now, timeZone);
    return [...days].map(([day, list]) => h('section', { class: 'day', 'aria-labelledby': `day-${day}` },
      h('h2', { id: `day-${day}`, class: 'day-title' },
        day === today ? 'Today · ' : '', formatDay(day),
        h('span', { class: 'count' }, `${list.length} ${list.length === 1 ? 'consultation' : 'consultations'}`)),
      h('div', { class: 'appt-list' }, list.map((a) => appointmentCard(a, {
        timeZone,
        viewer: 'doctor',
        showDay: false,
        now,
        // Join until the room closes; Cancel only before the start (the API refuses after).
        actions: [
          isJoinable(a, now) ? joinButton(a) : null,
          isChangeable(a, now) ? h('button', { type: 'button', class: 'btn btn-quiet danger', onclick: () => cancel(a) }, 'Cancel') : null,
        ],
      })))));
  }

  async function load() {
    let items;
    try {
      items = await ctx.api.listAppointments();
    } catch (e) {
      replace(body, h('p', { class: 'alert alert-error', role: 'alert' }, `Your schedule could not be loaded: ${e.message}`));
      return;
    }
    const now = Date.now();
    const [upcoming, earlier] = splitUpcoming(items, now);
    replace(body,
      upcoming.length
        ? h('div', { class: 'days' }, dayGroups(upcoming, now))
        : h('div', { class: 'card' }, h('p', { class: 'empty' }, 'No upcoming consultations. New bookings appear here.')),
      h('details', { class: 'card earlier', open: earlier.some((a) => a.id === highlightId) },
        h('summary', {}, `Past and cancelled (${earlier.length})`),
        earlier.length ? h('div', { class: 'days' }, dayGroups(earlier, now)) : h('p', { class: 'empty' }, 'Nothing here yet.')));
    highlightCard(highlightId);
  }

  (async () => {
    try {
      timeZone = (await ctx.profile()).time_zone;
      zoneNote.append(` Times in ${timeZone} (${zoneLabel(timeZone)}).`);
      await load();
    } catch (e) {
      replace(body, h('p', { class: 'alert alert-error', role: 'alert' }, `Your schedule could not be loaded: ${e.message}`));
    }
  })();
}
