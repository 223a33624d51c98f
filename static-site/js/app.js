// Entry point of every page: reads config.json, restores the session, and draws the page for the
// current path (client-side afterwards, see router.js). Pages are modules exporting
// `mount({main, ctx, params, url})`, which may return a cleanup function (the video page disposes
// the meeting there).

import { loadConfig } from './config.js';
import { Auth, homeFor, safeInAppPath } from './auth.js';
import { Api } from './api.js';
import { Router } from './router.js';
import { Shell } from './shell.js';
import { h, replace } from './dom.js';
import { browserTimeZone, isValidTimeZone } from './format.js';
import * as signIn from './pages/sign-in.js';
import * as appointments from './pages/appointments.js';
import * as schedule from './pages/schedule.js';
import * as notifications from './pages/notifications.js';
import * as video from './pages/video.js';

const ROUTES = [
  { pattern: /^\/(?:index\.html)?$/, page: signIn, title: 'Sign in', public: true },
  { pattern: /^\/appointments\/(?:index\.html)?$/, page: appointments, title: 'My appointments', role: 'patient' },
  { pattern: /^\/schedule\/(?:index\.html)?$/, page: schedule, title: 'My schedule', role: 'doctor' },
  { pattern: /^\/notifications\/(?:index\.html)?$/, page: notifications, title: 'Notifications' },
  { pattern: /^\/video\/([^/]+)$/, page: video, title: 'Video consultation', fullscreen: true },
];

async function main() {
  const mainEl = document.getElementById('main');
  let config;
  try {
    config = await loadConfig();
  } catch (e) {
    replace(mainEl, h('div', { class: 'card' }, h('h1', {}, 'MediChain is not available'),
      h('p', { class: 'alert alert-error', role: 'alert' }, `This site is misconfigured: ${e.message}`)));
    return;
  }

  const auth = new Auth(config);
  auth.restore();
  let router;
  let cleanup = null;
  let renderCount = 0;
  let profile = null;

  const api = new Api({
    base: config.api_base,
    auth,
    onUnauthorized: () => {
      // The session ended (expired, or the server's key changed): sign in again, then come back.
      auth.forget();
      profile = null;
      const here = window.location.pathname + window.location.search;
      router.navigate(`/?next=${encodeURIComponent(here)}&expired=1`, { replace: true });
    },
  });

  const shell = new Shell({
    element: document.getElementById('app-header'),
    api,
    onSignOut: () => {
      profile = null;
      if (!auth.signOut()) router.navigate('/', { replace: true });
    },
  });

  const ctx = {
    config,
    auth,
    api,
    get user() {
      return auth.user;
    },
    navigate: (path, options) => router.navigate(path, options),
    home: () => homeFor(auth.user?.role),
    refreshBell: () => shell.refreshBell(),
    /** The signed-in user's profile; falls back to the token and the browser until /api/me exists. */
    profile: () => {
      profile ??= loadProfile(api, auth.user).catch((e) => {
        profile = null;
        throw e;
      });
      return profile;
    },
  };

  async function render(route, params, url) {
    const mine = ++renderCount;
    if (cleanup) {
      const done = cleanup;
      cleanup = null;
      try {
        await done();
      } catch {
        // A page that fails to clean up must not block the next one.
      }
    }
    if (mine !== renderCount) return;

    if (!route) {
      shell.render(auth.user, null);
      document.title = 'Page not found · MediChain';
      replace(mainEl, h('div', { class: 'card narrow' }, h('h1', { tabindex: '-1' }, 'Page not found'),
        h('p', {}, h('a', { href: auth.user ? homeFor(auth.user.role) : '/' }, 'Back to MediChain'))));
      return;
    }
    if (!route.public && !auth.user) {
      const next = url.pathname + url.search;
      if (auth.mode === 'cognito') {
        replace(mainEl, h('p', { class: 'muted' }, 'Signing you in…'));
        await auth.beginCognitoSignIn(next);
      } else {
        await router.navigate(`/?next=${encodeURIComponent(next)}`, { replace: true });
      }
      return;
    }
    if (route.role && auth.user.role !== route.role) {
      await router.navigate(homeFor(auth.user.role), { replace: true });
      return;
    }

    document.body.classList.toggle('fullscreen', Boolean(route.fullscreen));
    shell.render(route.public ? null : auth.user, route);
    document.title = `${route.title} · MediChain`;
    mainEl.replaceChildren();
    const result = route.page.mount({ main: mainEl, ctx, params, url });
    cleanup = typeof result === 'function' ? result : null;
    if (url.hash) return;
    // Move focus to the new page's heading so screen readers announce it (not on the first load).
    if (renderCount > 1) mainEl.querySelector('h1')?.focus({ preventScroll: false });
  }

  router = new Router(ROUTES, render);
  ctx.safeNext = (path) => {
    const safe = safeInAppPath(path);
    return safe && router.match(new URL(safe, window.location.origin).pathname) ? safe : null;
  };
  await router.start();
}

async function loadProfile(api, user) {
  try {
    const me = await api.me();
    if (me && isValidTimeZone(me.time_zone)) return me;
  } catch (e) {
    if (!e.routeMissing) throw e;
  }
  let timeZone = browserTimeZone();
  if (user?.role === 'doctor') {
    // Doctors work in their practice's time zone, which the directory knows.
    const doctors = await api.listDoctors().catch(() => []);
    timeZone = doctors.find((d) => d.id === user.id)?.time_zone ?? timeZone;
  }
  return { id: user?.id, role: user?.role, name: user?.name, time_zone: timeZone };
}

main();
