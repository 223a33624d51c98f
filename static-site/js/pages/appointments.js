// The patient's page: book a consultation (doctor, day, free time), then upcoming and past
// appointments with Join, Reschedule and Cancel.

import { h, replace, spinner } from '../dom.js';
import { formatDateTime, zoneLabel } from '../format.js';
import { SlotPicker } from '../slot-picker.js';
import { appointmentCard, highlightCard, isChangeable, isJoinable, joinButton, splitUpcoming } from '../appointment-card.js';
import { confirmDialog } from '../confirm-dialog.js';

export function mount({ main, ctx, url }) {
  const highlightId = url.searchParams.get('id');
  const status = h('div', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const bookingSlot = h('div', {}, h('p', { class: 'muted' }, spinner(), ' Loading…'));
  const lists = h('div', { class: 'appt-lists' });
  main.append(
    h('div', { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'My appointments'),
      h('p', { class: 'lead' }, `Welcome, ${ctx.user.name}. Book a video consultation or join an upcoming one.`)),
    status,
    h('div', { class: 'layout-two' },
      h('section', { class: 'card booking', 'aria-labelledby': 'book-title' },
        h('h2', { id: 'book-title' }, 'Book a consultation'),
        bookingSlot),
      lists));

  const say = (message, kind = 'success') => replace(status, message
    ? h('p', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : null, tabindex: '-1' }, message)
    : null);

  let timeZone;
  let doctors = [];
  let picker;

  async function loadList(focusId) {
    let items;
    try {
      items = await ctx.api.listAppointments();
    } catch (e) {
      replace(lists, h('p', { class: 'alert alert-error', role: 'alert' }, `Your appointments could not be loaded: ${e.message}`));
      return;
    }
    const now = Date.now();
    const [upcoming, past] = splitUpcoming(items, now);
    // Join until the room closes; Reschedule and Cancel only before the start (the API refuses after).
    const card = (a) => appointmentCard(a, {
      timeZone,
      viewer: 'patient',
      now,
      actions: [
        isJoinable(a, now) ? joinButton(a) : null,
        isChangeable(a, now) ? h('button', {
          type: 'button',
          class: 'btn btn-secondary reschedule',
          'aria-expanded': 'false',
          'aria-controls': `reschedule-${a.id}`,
          onclick: (e) => openReschedule(a, e.currentTarget),
        }, 'Reschedule') : null,
        isChangeable(a, now) ? h('button', { type: 'button', class: 'btn btn-quiet danger', onclick: () => cancel(a) }, 'Cancel') : null,
      ],
    });
    replace(lists,
      h('section', { class: 'card', 'aria-labelledby': 'upcoming-title' },
        h('h2', { id: 'upcoming-title' }, 'Upcoming ', h('span', { class: 'count' }, String(upcoming.length))),
        upcoming.length
          ? h('div', { class: 'appt-list', id: 'upcoming-list' }, upcoming.map(card))
          : h('p', { class: 'empty' }, 'No upcoming consultations. Book one and it appears here.')),
      h('section', { class: 'card', 'aria-labelledby': 'past-title' },
        h('h2', { id: 'past-title' }, 'Past and cancelled ', h('span', { class: 'count' }, String(past.length))),
        past.length
          ? h('div', { class: 'appt-list', id: 'past-list' }, past.map(card))
          : h('p', { class: 'empty' }, 'Nothing here yet.')));
    highlightCard(focusId);
  }

  async function cancel(a) {
    const ok = await confirmDialog({
      title: 'Cancel this consultation?',
      message: `Dr. ${a.doctor_name}, ${formatDateTime(a.start, timeZone)}. The time becomes free for other patients.`,
      confirmLabel: 'Cancel appointment',
      cancelLabel: 'Keep appointment',
      danger: true,
    });
    if (!ok) return;
    try {
      await ctx.api.cancel(a.id);
      say(`Cancelled your consultation with Dr. ${a.doctor_name} on ${formatDateTime(a.start, timeZone)}.`);
      picker?.refresh();
      ctx.refreshBell();
    } catch (e) {
      say(`The appointment could not be cancelled: ${e.message}`, 'error');
    }
    await loadList();
    // The card and its button are gone: keep keyboard and screen-reader users on the outcome.
    status.querySelector('p')?.focus();
  }

  function openReschedule(a, button) {
    const cardEl = document.getElementById(`appointment-${a.id}`);
    const existing = cardEl.querySelector('.appt-panel');
    if (existing) {
      existing.remove();
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    button.setAttribute('aria-expanded', 'true');
    const doctor = doctors.find((d) => d.id === a.doctor_id) ?? { id: a.doctor_id, name: a.doctor_name };
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true }, 'Move appointment');
    const panelStatus = h('div', { 'aria-live': 'polite' });
    const rp = new SlotPicker({ api: ctx.api, timeZone, onChange: (start) => { submit.disabled = !start; } });
    const lock = h('fieldset', { class: 'form-lock' });
    const panel = h('form', {
      class: 'appt-panel',
      id: `reschedule-${a.id}`,
      'aria-label': 'Choose a new time',
      onsubmit: async (event) => {
        event.preventDefault();
        const start = rp.selected;
        // One move at a time: the whole form is locked until the request settles.
        if (!start || lock.disabled) return;
        lock.disabled = true;
        try {
          await ctx.api.reschedule(a.id, start);
          say(`Moved your consultation with Dr. ${a.doctor_name} to ${formatDateTime(start, timeZone)}.`);
          picker?.refresh();
          ctx.refreshBell();
          await loadList(a.id);
        } catch (e) {
          // 409 is also "already started", "changed meanwhile", "cancelled": the API's detail says which.
          const taken = e.status === 409 && e.is('slot-taken');
          replace(panelStatus, h('p', { class: 'alert alert-error', role: 'alert' },
            taken ? 'That time was just taken. Please choose another.' : e.message));
          if (taken) rp.refresh();
        } finally {
          lock.disabled = false;
        }
      },
    },
    h('h4', {}, 'Choose a new time'),
    replace(lock,
      rp.element,
      panelStatus,
      h('div', { class: 'form-actions' },
        submit,
        h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => { panel.remove(); button.setAttribute('aria-expanded', 'false'); button.focus(); } }, 'Keep current time'))));
    cardEl.append(panel);
    rp.setDoctor(doctor);
    panel.querySelector('input')?.focus();
  }

  function bookingForm() {
    const doctorSelect = h('select', { id: 'book-doctor', class: 'input', required: true },
      h('option', { value: '' }, 'Choose a doctor'),
      doctors.map((d) => h('option', { value: d.id }, `Dr. ${d.name} — ${d.specialty}`)));
    const reason = h('textarea', { id: 'book-reason', class: 'input', rows: '3', maxlength: '500', 'aria-describedby': 'book-reason-hint' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', disabled: true }, 'Book appointment');
    const formStatus = h('div', { 'aria-live': 'polite' });
    picker = new SlotPicker({ api: ctx.api, timeZone, onChange: (start) => { submit.disabled = !start; } });
    picker.setDoctor(null);
    doctorSelect.addEventListener('change', () => {
      replace(formStatus);
      picker.setDoctor(doctors.find((d) => d.id === doctorSelect.value) ?? null);
    });

    // One Idempotency-Key per booking attempt: a retry of the same attempt (after a network error
    // or a 5xx) reuses it, so the server books at most once; any change starts a new attempt.
    let attempt = null;
    const lock = h('fieldset', { class: 'form-lock' });
    const form = h('form', {
      class: 'book-form',
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const start = picker.selected;
        // One booking at a time: doctor, times and reason are locked until the request settles,
        // so no second booking with another body (and key) can start meanwhile.
        if (!doctorSelect.value || !start || lock.disabled) return;
        const body = { doctor_id: doctorSelect.value, start, reason: reason.value.trim() || undefined };
        const fingerprint = JSON.stringify(body);
        if (attempt?.fingerprint !== fingerprint) attempt = { key: crypto.randomUUID(), fingerprint };
        lock.disabled = true;
        replace(formStatus, h('p', { class: 'muted' }, spinner(), ' Booking…'));
        try {
          const booked = await ctx.api.book(body, attempt.key);
          attempt = null;
          reason.value = '';
          replace(formStatus);
          say(`Booked: Dr. ${booked.doctor_name}, ${formatDateTime(booked.start, timeZone)}. You can join from “Upcoming” when it is time.`);
          ctx.refreshBell();
          await Promise.all([loadList(booked.id), picker.refresh()]);
        } catch (e) {
          if (!(e.isNetwork || e.status >= 500)) attempt = null;
          const taken = e.status === 409 && e.is('slot-taken');
          const message = taken
            ? 'That time was just taken. Please choose another.'
            : e.isNetwork || e.status >= 500 ? `${e.message} Select “Book appointment” again to retry safely.` : e.message;
          replace(formStatus, h('p', { class: 'alert alert-error', role: 'alert' }, message));
          if (taken) picker.refresh();
          else submit.disabled = !picker.selected;
        } finally {
          lock.disabled = false;
        }
      },
    },
    replace(lock,
      h('div', { class: 'field' }, h('label', { for: 'book-doctor' }, 'Doctor'), doctorSelect),
      picker.element,
      h('div', { class: 'field' },
        h('label', { for: 'book-reason' }, 'Reason for the visit ', h('span', { class: 'muted' }, '(optional)')),
        reason,
        h('p', { id: 'book-reason-hint', class: 'hint' }, 'Only you and your doctor see this. It is never sent by text message.')),
      formStatus,
      submit));
    return form;
  }

  (async () => {
    try {
      const [profile, list] = await Promise.all([ctx.profile(), ctx.api.listDoctors()]);
      timeZone = profile.time_zone;
      doctors = list;
      replace(bookingSlot,
        h('p', { class: 'hint' }, `Times are shown in your time zone (${timeZone}, ${zoneLabel(timeZone)}).`),
        bookingForm());
      await loadList(highlightId);
    } catch (e) {
      replace(bookingSlot, h('p', { class: 'alert alert-error', role: 'alert' }, `The page could not be loaded: ${e.message}`));
    }
  })();
}
