// Picks a free slot of one doctor on a day of the *viewer's* calendar. The API lists slots per
// doctor-local date (in UTC), so the viewer's day is covered by asking for the neighbouring doctor
// dates too and keeping the slots that fall on the viewer's day in the viewer's time zone.

import { h, replace, spinner } from './dom.js';
import { addDays, formatDay, formatTime, localDate, zoneLabel } from './format.js';

const SEARCH_AHEAD_DAYS = 21;
/**
 * How far ahead the API offers slots (`SlotRules::MAX_DAYS_AHEAD` in shared/src/domain/doctor.rs).
 * Neither the API nor config.json states it, so it is repeated here; later days simply have none.
 */
export const BOOKING_DAYS_AHEAD = 90;
let pickers = 0;

export class SlotPicker {
  #api;
  #timeZone;
  #doctor = null;
  #cache = new Map(); // `${doctorId}|${doctorDate}` -> Promise<slots>
  #loads = 0;
  #dateInput;
  #grid;
  #note;
  #name;
  #onChange;
  element;

  constructor({ api, timeZone, onChange = () => {} }) {
    this.#api = api;
    this.#timeZone = timeZone;
    this.#onChange = onChange;
    const id = `slot-picker-${++pickers}`;
    this.#name = `${id}-slot`;
    const today = localDate(Date.now(), timeZone);
    this.#dateInput = h('input', {
      type: 'date', id: `${id}-date`, class: 'input', min: today, max: addDays(today, BOOKING_DAYS_AHEAD), value: today, required: true,
      onchange: () => this.#dateInput.value && this.#load(this.#dateInput.value),
    });
    this.#grid = h('div', { class: 'slot-grid' });
    this.#note = h('div', { class: 'slot-note', 'aria-live': 'polite' });
    this.element = h('div', { class: 'slot-picker' },
      h('div', { class: 'field' },
        h('label', { for: `${id}-date` }, 'Date'),
        h('div', { class: 'date-row' },
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Previous day', onclick: () => this.#step(-1) }, '‹'),
          this.#dateInput,
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Next day', onclick: () => this.#step(1) }, '›'))),
      h('fieldset', { class: 'field slots' },
        h('legend', {}, 'Time ', h('span', { class: 'muted' }, `(your time, ${zoneLabel(timeZone)})`)),
        this.#grid,
        this.#note));
  }

  /** The chosen slot's start (UTC RFC 3339), or null. */
  get selected() {
    return this.#grid.querySelector('input:checked')?.value ?? null;
  }

  get date() {
    return this.#dateInput.value;
  }

  /** Shows `doctor`'s slots, starting at the first day with free times from today. */
  async setDoctor(doctor) {
    this.#doctor = doctor;
    if (!doctor) {
      replace(this.#grid);
      replace(this.#note, h('p', { class: 'muted' }, 'Choose a doctor first.'));
      return;
    }
    await this.#findFrom(localDate(Date.now(), this.#timeZone));
  }

  /** Forgets cached slots (after booking, a taken slot must disappear) and reloads the day. */
  refresh() {
    this.#cache.clear();
    return this.#doctor ? this.#load(this.#dateInput.value) : Promise.resolve();
  }

  #step(days) {
    const { min, max } = this.#dateInput;
    const next = addDays(this.#dateInput.value || min, days);
    if (next < min || next > max) return;
    this.#dateInput.value = next;
    this.#load(next);
  }

  async #findFrom(date) {
    const load = ++this.#loads;
    this.#busy(`Looking for free times from ${formatDay(date)}…`);
    try {
      for (let i = 0; i < SEARCH_AHEAD_DAYS; i += 1) {
        const day = addDays(date, i);
        if (day > this.#dateInput.max) break;
        const slots = await this.#slotsOn(day);
        if (load !== this.#loads) return;
        if (slots.length) {
          this.#dateInput.value = day;
          this.#draw(day, slots);
          return;
        }
      }
      this.#dateInput.value = date;
      this.#draw(date, []);
      replace(this.#note, h('p', { class: 'muted' }, `No free times in the next ${SEARCH_AHEAD_DAYS} days.`));
    } catch (e) {
      if (load === this.#loads) this.#failed(e);
    }
  }

  async #load(date) {
    const load = ++this.#loads;
    this.#busy('Loading free times…');
    try {
      const slots = await this.#slotsOn(date);
      if (load === this.#loads) this.#draw(date, slots);
    } catch (e) {
      if (load === this.#loads) this.#failed(e);
    }
  }

  async #slotsOn(day) {
    const doctor = this.#doctor;
    const dates = [addDays(day, -1), day, addDays(day, 1)];
    const lists = await Promise.all(dates.map((d) => this.#doctorDate(doctor.id, d)));
    const seen = new Set();
    return lists.flat()
      .filter((s) => localDate(s.start, this.#timeZone) === day)
      .filter((s) => !seen.has(s.start) && seen.add(s.start))
      .sort((a, b) => a.start.localeCompare(b.start));
  }

  #doctorDate(doctorId, date) {
    const key = `${doctorId}|${date}`;
    if (!this.#cache.has(key)) {
      const p = this.#api.slots(doctorId, date).then((r) => r.slots ?? []);
      p.catch(() => this.#cache.delete(key));
      this.#cache.set(key, p);
    }
    return this.#cache.get(key);
  }

  #busy(text) {
    replace(this.#grid);
    replace(this.#note, h('p', { class: 'muted' }, spinner('Loading'), ' ', text));
    this.#onChange(null);
  }

  #failed(e) {
    replace(this.#grid);
    replace(this.#note, h('p', { class: 'alert alert-error', role: 'alert' }, `Free times could not be loaded: ${e.message}`));
  }

  #draw(day, slots) {
    replace(this.#grid, slots.map((s) => h('label', { class: 'slot' },
      h('input', { type: 'radio', name: this.#name, value: s.start, class: 'slot-input', onchange: () => this.#onChange(s.start) }),
      h('span', { class: 'slot-label' }, formatTime(s.start, this.#timeZone)))));
    if (slots.length) {
      replace(this.#note, h('p', { class: 'muted' }, `${slots.length} free ${slots.length === 1 ? 'time' : 'times'} on ${formatDay(day)}.`));
    } else {
      replace(this.#note, h('p', { class: 'muted' }, `No free times on ${formatDay(day)}. `,
        h('button', { type: 'button', class: 'btn btn-link', onclick: () => this.#findFrom(addDays(day, 1)) }, 'Find the next free day')));
    }
    this.#onChange(null);
  }
}
