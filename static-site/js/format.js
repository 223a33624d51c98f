// Dates and times shown in the viewer's own time zone (from their profile, else the browser's),
// and the calendar arithmetic the slot picker needs. The API speaks UTC RFC 3339 only.

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function isValidTimeZone(tz) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** YYYY-MM-DD of an instant in a time zone. */
export function localDate(instant, timeZone) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** "Mon, 12 Jan 2026": of a YYYY-MM-DD date, or of an instant in a time zone. */
export function formatDay(value, timeZone) {
  const dateOnly = typeof value === 'string' && DATE_ONLY.test(value);
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: dateOnly ? 'UTC' : timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  }).format(dateOnly ? new Date(`${value}T12:00:00Z`) : new Date(value));
}

/** "14:30" */
export function formatTime(instant, timeZone) {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(new Date(instant));
}

/** "Mon, 12 Jan 2026, 14:30" */
export function formatDateTime(instant, timeZone) {
  return `${formatDay(instant, timeZone)}, ${formatTime(instant, timeZone)}`;
}

/** "CET", "GMT-5", ... the short zone name at that instant. */
export function zoneLabel(timeZone, instant = Date.now()) {
  // en-US has the familiar abbreviations (CST, EST); elsewhere it falls back to GMT+1 and the like.
  const part = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' })
    .formatToParts(new Date(instant))
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/** The date `days` after a YYYY-MM-DD date. */
export function addDays(date, days) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** "in 5 min", "2 h ago" — for notifications. */
export function relativeTime(instant, now = Date.now()) {
  const seconds = Math.round((new Date(instant).getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}
