// The sign-in page: the local demo-user picker, or the Cognito hosted UI (and its redirect back).

import { h, replace, spinner } from '../dom.js';
import { homeFor } from '../auth.js';

export function mount({ main, ctx, url }) {
  const next = ctx.safeNext(url.searchParams.get('next'));
  const status = h('div', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
  const card = h('section', { class: 'card narrow sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Sign in to MediChain'),
    h('p', { class: 'lead' }, 'Book video consultations with your doctor and join them from your appointments.'),
    url.searchParams.has('expired') ? h('p', { class: 'alert alert-info' }, 'Your session ended. Please sign in again.') : null,
    status);
  main.append(h('div', { class: 'sign-in-page' }, card));

  const fail = (message) => replace(status, h('p', { class: 'alert alert-error', role: 'alert' }, message));
  const done = (user) => ctx.navigate(next ?? homeFor(user.role), { replace: true });

  if (ctx.auth.mode === 'cognito') {
    if (ctx.auth.isCognitoCallback()) {
      replace(status, spinner('Signing you in'), ' Signing you in…');
      ctx.auth.completeCognitoSignIn()
        .then((path) => ctx.navigate(ctx.safeNext(path) ?? homeFor(ctx.user?.role), { replace: true }))
        .catch((e) => {
          fail(e.message);
          card.append(cognitoButton(ctx, next));
        });
      return;
    }
    if (ctx.user) return done(ctx.user);
    card.append(cognitoButton(ctx, next));
    return;
  }

  if (ctx.user) return done(ctx.user);
  const picker = h('div', { class: 'demo-users' }, spinner('Loading demo users'));
  card.append(
    h('p', { class: 'muted' }, 'Local demo: choose who you are. In AWS this page sends you to the secure sign-in instead.'),
    picker);
  ctx.auth.demoUsers()
    .then((users) => {
      const group = (role, title) => {
        const list = users.filter((u) => u.role === role);
        if (!list.length) return null;
        return h('fieldset', { class: 'user-group' },
          h('legend', {}, title),
          h('ul', { class: 'user-list', role: 'list' }, list.map((u) => h('li', {},
            h('button', {
              type: 'button',
              class: 'user-choice',
              dataset: { userId: u.id },
              onclick: async (event) => {
                const button = event.currentTarget;
                button.disabled = true;
                try {
                  done(await ctx.auth.signInAs(u.id));
                } catch (e) {
                  button.disabled = false;
                  fail(e.message);
                }
              },
            },
            h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(u.name)),
            h('span', { class: 'user-choice-text' },
              h('span', { class: 'user-choice-name' }, role === 'doctor' ? `Dr. ${u.name}` : u.name),
              h('span', { class: 'user-choice-role' }, role === 'doctor' ? 'Doctor' : 'Patient')))))));
      };
      replace(picker, group('patient', 'Patients'), group('doctor', 'Doctors'));
    })
    .catch((e) => {
      replace(picker);
      fail(`${e.message} Is the local server running?`);
    });
}

function cognitoButton(ctx, next) {
  return h('button', {
    type: 'button',
    class: 'btn btn-primary btn-block',
    onclick: () => ctx.auth.beginCognitoSignIn(next ?? '/'),
  }, 'Sign in');
}

export function initials(name) {
  return String(name).split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join('');
}
