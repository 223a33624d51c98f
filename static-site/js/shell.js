// The header of every signed-in page: brand, the role's main page, the notification bell with
// the unread count, who is signed in, and sign-out.

import { h, replace } from './dom.js';
import { homeFor } from './auth.js';

const SVG = 'http://www.w3.org/2000/svg';
const BELL_REFRESH_MS = 60_000;

function bellIcon() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z');
  svg.append(path);
  return svg;
}

export class Shell {
  #element;
  #api;
  #onSignOut;
  #bell = null;
  #timer = null;

  constructor({ element, api, onSignOut }) {
    this.#element = element;
    this.#api = api;
    this.#onSignOut = onSignOut;
  }

  render(user, route) {
    clearInterval(this.#timer);
    this.#timer = null;
    this.#bell = null;
    if (route?.fullscreen) {
      this.#element.hidden = true;
      return;
    }
    this.#element.hidden = false;
    const brand = h('a', { class: 'brand', href: user ? homeFor(user.role) : '/', 'aria-label': 'MediChain home' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '+'),
      h('span', { class: user ? 'brand-text' : null }, 'MediChain'));
    if (!user) {
      replace(this.#element, h('div', { class: 'header-inner' }, brand));
      return;
    }
    const here = window.location.pathname;
    const mainLink = user.role === 'doctor'
      ? { href: '/schedule/', label: 'Schedule' }
      : { href: '/appointments/', label: 'Appointments' };
    const current = (href) => (here.startsWith(href) ? 'page' : null);
    this.#bell = h('a', { class: 'bell', href: '/notifications/', 'aria-current': current('/notifications/'), 'aria-label': 'Notifications' },
      bellIcon(), h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' }));
    replace(this.#element, h('div', { class: 'header-inner' },
      brand,
      h('nav', { 'aria-label': 'Main', class: 'main-nav' },
        h('a', { href: mainLink.href, 'aria-current': current(mainLink.href) }, mainLink.label),
        this.#bell),
      h('div', { class: 'who' },
        h('span', { class: 'who-name' }, user.name),
        h('span', { class: 'role-tag' }, user.role === 'doctor' ? 'Doctor' : 'Patient')),
      h('button', { type: 'button', class: 'btn btn-quiet sign-out', onclick: () => this.#onSignOut() }, 'Sign out')));
    this.refreshBell();
    this.#timer = setInterval(() => this.refreshBell(), BELL_REFRESH_MS);
  }

  /** Updates the unread count; hides it when the notifications API is not there (yet). */
  async refreshBell() {
    const bell = this.#bell;
    if (!bell) return;
    let unread = 0;
    try {
      const page = await this.#api.notifications({ limit: 1 });
      unread = Number(page?.unread_count ?? 0);
    } catch {
      unread = 0; // no count is better than an error in the header
    }
    if (bell !== this.#bell) return;
    const badge = bell.querySelector('.badge');
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.hidden = unread === 0;
    bell.setAttribute('aria-label', unread ? `Notifications, ${unread} unread` : 'Notifications');
    bell.dataset.unread = String(unread);
  }
}
