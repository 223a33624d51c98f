// Where "Join Video Consultation" goes: the in-app video page for the appointment's room, or the
// meeting URL itself when no room name can be taken from the appointment.

/** Room names the video page accepts from its path (medichain-<hex>, or a plain Jitsi room). */
export const ROOM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function roomFromMeetingUrl(meetingUrl) {
  try {
    const last = new URL(meetingUrl).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : null;
  } catch {
    return null;
  }
}

/** {href, external} for an appointment's join button. */
export function joinTarget(appointment) {
  const room = [appointment.room_name, roomFromMeetingUrl(appointment.meeting_url)]
    .find((r) => r && ROOM_NAME.test(r));
  if (room) {
    return { href: `/video/${encodeURIComponent(room)}?appointment=${encodeURIComponent(appointment.id)}`, external: false };
  }
  if (/^https:\/\//.test(appointment.meeting_url ?? '')) return { href: appointment.meeting_url, external: true };
  return null;
}
