// The video consultation page, /video/{room}?appointment={id}: asks the API how to join (domain,
// room, display name, Jitsi token), embeds the meeting with the External API, shows its state,
// reports joined/left, and takes the user back to their appointments or schedule on leaving.

import { h, replace } from '../dom.js';
import { formatDateTime, formatTime, zoneLabel } from '../format.js';
import { ROOM_NAME } from '../video-link.js';
import { loadExternalApi, meetingOptions } from '../jitsi.js';

export function mount({ main, ctx, params, url }) {
  const pathRoom = params[0];
  const appointmentId = url.searchParams.get('appointment');
  const user = ctx.user;
  const home = ctx.home();
  const backLabel = user.role === 'doctor' ? 'Back to my schedule' : 'Back to my appointments';

  const statusText = h('span', { class: 'call-status-text' }, 'Preparing your consultation…');
  const statusSpin = h('span', { class: 'spinner', 'aria-hidden': 'true' });
  const status = h('div', { class: 'call-status', role: 'status', 'aria-live': 'polite' }, statusSpin, statusText);
  const subtitle = h('p', { class: 'call-with' });
  const indicators = h('ul', { class: 'call-indicators', role: 'list', 'aria-label': 'Call status' });
  const meeting = h('div', { class: 'meeting', id: 'meeting' });
  const overlay = h('div', { class: 'meeting-loading' }, h('span', { class: 'spinner spinner-lg', 'aria-hidden': 'true' }), h('p', {}, 'Loading the video room…'));
  const stage = h('div', { class: 'stage' }, meeting, overlay);
  const problem = h('section', { class: 'call-problem', hidden: true, 'aria-labelledby': 'call-problem-title', role: 'alert' });
  const exit = h('button', { type: 'button', class: 'btn btn-danger exit', onclick: () => leave() }, 'Exit');
  main.append(h('div', { class: 'video-page' },
    h('header', { class: 'video-bar' },
      h('a', { class: 'brand brand-small', href: home, 'aria-label': `MediChain, ${backLabel.toLowerCase()}` },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '+'), h('span', { class: 'brand-text' }, 'MediChain')),
      h('div', { class: 'call-info' }, h('h1', { tabindex: '-1' }, 'Video consultation'), subtitle),
      exit),
    h('div', { class: 'call-bar' }, status, indicators),
    problem,
    stage));

  let api = null;
  let joined = false;
  let closed = false;
  let join = null; // {appointmentId, domain, room, displayName, jwt, externalUrl}
  const participants = new Map(); // id -> display name (remote participants)
  let localId = null;

  const setStatus = (text, busy = false) => {
    statusText.textContent = text;
    statusSpin.hidden = !busy;
  };

  function showProblem(title, message, { retry, external } = {}) {
    overlay.hidden = true;
    setStatus(title);
    replace(problem,
      h('h2', { id: 'call-problem-title' }, title),
      h('p', {}, message),
      h('div', { class: 'problem-actions' },
        retry ? h('button', { type: 'button', class: 'btn btn-primary retry', onclick: retry }, 'Retry') : null,
        external ? h('a', { class: 'btn btn-secondary external-link', href: external, target: '_blank', rel: 'noopener noreferrer' },
          'Open the meeting in a new tab', h('span', { class: 'sr-only' }, ' (opens in a new tab)')) : null,
        h('a', { class: 'btn btn-quiet', href: home }, backLabel)));
    problem.hidden = false;
    stage.hidden = true;
    problem.querySelector('button, a')?.focus();
  }

  function hideProblem() {
    problem.hidden = true;
    stage.hidden = false;
  }

  function indicator(key, text, on) {
    indicators.querySelector(`[data-indicator="${key}"]`)?.remove();
    if (on) indicators.append(h('li', { class: `indicator indicator-${key}`, dataset: { indicator: key } }, text));
  }

  function updateCount() {
    indicator('participants', `${participants.size + 1} in call`, joined);
  }

  function report(event, options) {
    if (!join?.appointmentId) return;
    ctx.api.callEvent(join.appointmentId, event, options).catch(() => {
      // Attendance reporting must never disturb the call (and the route may not exist yet).
    });
  }

  function reportLeft(options) {
    if (!joined) return;
    joined = false;
    report('left', options);
  }

  function dispose() {
    if (!api) return;
    const current = api;
    api = null;
    try {
      current.dispose();
    } catch {
      // The iframe may already be gone.
    }
  }

  /** Exit, readyToClose and leaving the page all end here. */
  function leave() {
    if (closed) return;
    closed = true;
    reportLeft();
    dispose();
    // Replace the call's history entry: Back must not walk into the room again.
    ctx.navigate(home, { replace: true });
  }

  const onPageHide = () => reportLeft({ keepalive: true });
  window.addEventListener('pagehide', onPageHide);

  const notFound = ['Appointment not found', 'This consultation does not exist or is not one of yours.'];

  /** How to join: from the API's join route, or from config + path until that route exists. */
  async function resolveJoin() {
    let id = appointmentId;
    if (!id) {
      // A bare room link: the room must be one of the user's own appointments, whose join route
      // then decides; a room link alone never opens a meeting.
      let mine;
      try {
        mine = await ctx.api.listAppointments();
      } catch (e) {
        return { problem: ['The consultation could not be opened', `Your appointments could not be loaded: ${e.message}`], retry: true };
      }
      id = mine.find((a) => a.room_name === pathRoom)?.id ?? null;
      if (!id) return { problem: notFound };
    }
    const appointment = await ctx.api.getAppointment(id).catch((e) => (e.status === 404 ? 'missing' : null));
    if (appointment === 'missing') return { problem: notFound };
    if (appointment) {
      const other = user.role === 'doctor' ? appointment.patient_name : `Dr. ${appointment.doctor_name}`;
      const profile = await ctx.profile().catch(() => null);
      // The day is today (the room only opens around the start): the time is what matters here.
      subtitle.textContent = `with ${other} · ${formatTime(appointment.start, profile?.time_zone)} ${zoneLabel(profile?.time_zone, appointment.start)}`;
      subtitle.title = formatDateTime(appointment.start, profile?.time_zone);
    }
    const fallback = {
      appointmentId: id,
      domain: ctx.config.jitsi_domain,
      room: pathRoom,
      displayName: user.role === 'doctor' ? `Dr. ${user.name}` : user.name,
      jwt: null,
      externalUrl: appointment?.meeting_url ?? `https://${ctx.config.jitsi_domain}/${encodeURIComponent(pathRoom)}`,
    };
    try {
      const j = await ctx.api.join(id);
      return {
        join: {
          appointmentId: id,
          domain: j.domain,
          room: j.room,
          displayName: j.display_name || fallback.displayName,
          jwt: j.token || null,
          moderator: Boolean(j.moderator),
          lobby: Boolean(j.lobby),
          externalUrl: appointment?.meeting_url ?? `https://${j.domain}/${j.room}`,
        },
      };
    } catch (e) {
      if (e.routeMissing) return { join: fallback };
      // Only a room that is not open yet is worth a Retry; a closed one stays closed.
      if (e.status === 403 && e.is('room-not-open')) return { problem: ['The room is not open yet', await windowMessage(e)], retry: true };
      if (e.status === 403 && e.is('room-closed')) return { problem: ['The room has closed', await windowMessage(e)] };
      if (e.status === 403) return { problem: ['The consultation could not be opened', e.message] };
      if (e.status === 409) return { problem: ['This consultation was cancelled', e.message || 'There is nothing to join.'] };
      if (e.status === 404) return { problem: notFound };
      return { problem: ['The consultation could not be opened', e.message], retry: true };
    }
  }

  /** "The room opens at Mon, 7 Dec 2026, 14:45 CST…" rather than the API's UTC timestamp. */
  async function windowMessage(e) {
    const timeZone = (await ctx.profile().catch(() => null))?.time_zone;
    // The zone label as the appointment cards show it, for that instant (CST, CDT, GMT+1, …).
    const at = (instant) => `${formatDateTime(instant, timeZone)} ${zoneLabel(timeZone, instant)}`;
    const from = user.role === 'doctor' ? 'schedule' : 'appointments';
    if (e.is('room-not-open') && e.body?.opens_at) {
      return `The video room opens at ${at(e.body.opens_at)}. Retry then, or come back from your ${from}.`;
    }
    if (e.is('room-closed') && e.body?.closes_at) {
      return `The video room closed at ${at(e.body.closes_at)}. This consultation is over; your ${from} show what is next.`;
    }
    return e.message;
  }

  async function start() {
    if (!ROOM_NAME.test(pathRoom)) {
      showProblem('This video link is not valid', `Open the consultation from your ${user.role === 'doctor' ? 'schedule' : 'appointments'} instead.`);
      return;
    }
    hideProblem();
    overlay.hidden = false;
    setStatus('Preparing your consultation…', true);
    if (!join) {
      const resolved = await resolveJoin();
      if (closed) return;
      if (resolved.problem) {
        showProblem(...resolved.problem, { retry: resolved.retry ? () => start() : null });
        return;
      }
      join = resolved.join;
    }
    setStatus('Loading the video service…', true);
    let JitsiMeetExternalAPI;
    try {
      JitsiMeetExternalAPI = await loadExternalApi(join.domain);
    } catch (e) {
      if (closed) return;
      showProblem('The video call could not be loaded',
        `${e.message} Check your internet connection, or whether a browser extension or network blocks it, then retry. You can also open the meeting directly.`,
        { retry: () => start(), external: join.externalUrl });
      return;
    }
    if (closed) return;
    meeting.replaceChildren();
    setStatus(join.lobby && !join.moderator
      ? 'Check your camera and microphone, then select “Join meeting”. Your doctor will let you in.'
      : 'Check your camera and microphone, then select “Join meeting”.', true);
    try {
      api = new JitsiMeetExternalAPI(join.domain, meetingOptions({
        room: join.room,
        displayName: join.displayName,
        jwt: join.jwt,
        parentNode: meeting,
        onload: () => { overlay.hidden = true; },
      }));
    } catch (e) {
      showProblem('The video call could not start', e.message, { retry: () => start(), external: join.externalUrl });
      return;
    }
    wire(api);
  }

  function wire(meetingApi) {
    const on = (event, listener) => meetingApi.addListener(event, (payload) => {
      if (meetingApi === api) listener(payload ?? {});
    });
    // The doctor (moderator, with token auth) turns the lobby on, so the patient waits there
    // until admitted. Jitsi grants the role on joining or just after (participantRoleChanged);
    // the command sets the state (true), so sending it at both moments is harmless.
    const lockRoom = () => {
      if (!join.moderator || !join.lobby) return;
      try {
        meetingApi.executeCommand('toggleLobby', true);
      } catch {
        // A meeting without lobby support still lets the consultation go on.
      }
    };
    on('videoConferenceJoined', (e) => {
      joined = true;
      localId = e.id ?? null;
      overlay.hidden = true;
      setStatus('You are in the consultation.');
      updateCount();
      report('joined');
      lockRoom();
    });
    on('participantRoleChanged', (e) => {
      if (e.role === 'moderator' && (!localId || e.id === localId)) lockRoom();
    });
    on('videoConferenceLeft', () => {
      reportLeft();
      participants.clear();
      setStatus('You left the consultation.');
      indicators.replaceChildren();
    });
    on('participantJoined', (e) => {
      participants.set(e.id, e.displayName || 'A participant');
      setStatus(`${participants.get(e.id)} joined.`);
      updateCount();
    });
    on('participantLeft', (e) => {
      const name = participants.get(e.id) ?? 'A participant';
      participants.delete(e.id);
      setStatus(`${name} left.`);
      updateCount();
    });
    on('audioMuteStatusChanged', (e) => indicator('mic', 'Microphone off', Boolean(e.muted)));
    on('videoMuteStatusChanged', (e) => indicator('camera', 'Camera off', Boolean(e.muted)));
    on('raiseHandUpdated', (e) => {
      const raised = Boolean(e.handRaised);
      if (e.id && e.id !== localId) {
        const name = participants.get(e.id) ?? 'A participant';
        indicator(`hand-${e.id}`, `${name} raised a hand`, raised);
        if (raised) setStatus(`${name} raised a hand.`);
      } else {
        indicator('hand', 'Your hand is raised', raised);
      }
    });
    on('errorOccurred', (e) => {
      const message = e.message || e.name || 'The video service reported an error.';
      if (e.isFatal) {
        reportLeft();
        dispose();
        showProblem('The video call was interrupted', message, { retry: () => start(), external: join.externalUrl });
      } else {
        setStatus(`Warning: ${message}`);
      }
    });
    on('readyToClose', () => leave());
  }

  start();

  // Leaving by any other way (a link, the back button) ends the call cleanly too.
  return () => {
    window.removeEventListener('pagehide', onPageHide);
    closed = true;
    reportLeft();
    dispose();
  };
}
