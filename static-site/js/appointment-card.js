// One appointment as a card, the same for the patient's list and the doctor's schedule: when (in
// the viewer's time zone), with whom, status, reason, and the actions the page passes in.

import { h } from './dom.js';
import { formatDay, formatTime, zoneLabel } from './format.js';
import { joinTarget } from './video-link.js';

const STATUS = {
  booked: 'Booked',
  cancelled: 'Cancelled',
  completed: 'Completed',
  no_show: 'Missed',
};

/** When the video room stops letting people in: the API's join window (docs/video-rooms.md). */
export function roomClosesAt(appointment) {
  return new Date(appointment.room_closes_at).getTime();
}

/** Booked and its room not closed yet: the consultation can still be joined (the API decides exactly when). */
export function isJoinable(appointment, now = Date.now()) {
  return appointment.status === 'booked' && roomClosesAt(appointment) > now;
}

/** Booked and not started: the API still lets either side cancel or move it (409 once under way). */
export function isChangeable(appointment, now = Date.now()) {
  return appointment.status === 'booked' && new Date(appointment.start).getTime() > now;
}

/** Started, and its room still open. */
export function isUnderWay(appointment, now = Date.now()) {
  return isJoinable(appointment, now) && !isChangeable(appointment, now);
}

/** [upcoming by start, the rest newest first]. */
export function splitUpcoming(items, now = Date.now()) {
  return [items.filter((a) => isJoinable(a, now)), items.filter((a) => !isJoinable(a, now)).reverse()];
}

/** Marks, scrolls to and focuses the card of `id` (the `?id=` of a notification's link). */
export function highlightCard(id) {
  const card = id && document.getElementById(`appointment-${id}`);
  if (!card) return;
  card.classList.add('highlight');
  card.scrollIntoView({ block: 'center' });
  card.focus({ preventScroll: true });
}

export function statusBadge(status, { underWay = false } = {}) {
  return h('span', { class: `status status-${status}` }, underWay ? 'In progress' : STATUS[status] ?? status);
}

export function joinButton(appointment) {
  const target = joinTarget(appointment);
  if (!target) return null;
  return h('a', {
    class: 'btn btn-primary join',
    href: target.href,
    target: target.external ? '_blank' : null,
    rel: target.external ? 'noopener noreferrer' : null,
  }, 'Join Video Consultation', target.external ? h('span', { class: 'sr-only' }, ' (opens in a new tab)') : null);
}

export function appointmentCard(appointment, { timeZone, viewer, actions = [], panel = null, showDay = true, now = Date.now() }) {
  const underWay = isUnderWay(appointment, now);
  actions = actions.filter(Boolean);
  const other = viewer === 'doctor' ? appointment.patient_name : `Dr. ${appointment.doctor_name}`;
  return h('article', {
    class: 'appt-card',
    id: `appointment-${appointment.id}`,
    tabindex: '-1',
    dataset: { appointmentId: appointment.id, status: appointment.status },
    'aria-label': `${other}, ${formatDay(appointment.start, timeZone)} ${formatTime(appointment.start, timeZone)}`,
  },
  h('div', { class: 'appt-when' },
    showDay ? h('span', { class: 'appt-day' }, formatDay(appointment.start, timeZone)) : null,
    h('span', { class: 'appt-time' },
      h('time', { datetime: appointment.start }, formatTime(appointment.start, timeZone)),
      '–',
      h('time', { datetime: appointment.end }, formatTime(appointment.end, timeZone)),
      ' ', h('span', { class: 'muted' }, zoneLabel(timeZone, appointment.start)))),
  h('div', { class: 'appt-body' },
    h('h3', { class: 'appt-with' }, other),
    appointment.reason ? h('p', { class: 'appt-reason' }, appointment.reason) : null,
    statusBadge(appointment.status, { underWay }),
    underWay ? h('p', { class: 'appt-note' },
      `The video room is open until ${formatTime(roomClosesAt(appointment), timeZone)} ${zoneLabel(timeZone, roomClosesAt(appointment))}.`) : null),
  actions.length ? h('div', { class: 'appt-actions' }, actions) : null,
  panel);
}
