// The notifications list: newest first, each with its action (View Appointment, Join Video Call,
// Join Now, View Details) and "Mark as read"; the header bell shows the unread count.

import { h, replace, spinner } from '../dom.js';
import { formatDateTime, relativeTime } from '../format.js';

const PAGE_SIZE = 20;
const PRIORITY = { high: 'High priority', urgent: 'Urgent' };

export function mount({ main, ctx }) {
  const list = h('ul', { class: 'notif-list', role: 'list', id: 'notification-list' });
  const status = h('div', { class: 'page-status', role: 'status', 'aria-live': 'polite' });
  const more = h('div', { class: 'more' });
  const summary = h('p', { class: 'lead' }, 'Updates about your consultations.');
  main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Notifications'), summary),
    status,
    h('section', { class: 'card', 'aria-label': 'Notifications' },
      h('p', { class: 'muted loading-note' }, spinner(), ' Loading…'),
      list,
      more));
  const loadingNote = main.querySelector('.loading-note');
  let timeZone;

  /** Action URLs are in-app paths; a full URL of this very site is accepted as its path. */
  function actionPath(url) {
    try {
      const u = new URL(url, window.location.origin);
      return u.origin === window.location.origin ? ctx.safeNext(u.pathname + u.search) : null;
    } catch {
      return null;
    }
  }

  function actionLink(n) {
    const href = actionPath(n.action?.url);
    if (!href || !n.action?.label) return null;
    return h('a', {
      class: n.priority === 'urgent' || /join/i.test(n.action.label) ? 'btn btn-primary' : 'btn btn-secondary',
      href,
      // Following the action counts as reading it; navigation goes on regardless of the answer.
      onclick: () => { if (!n.read) markRead(n, null); },
    }, n.action.label);
  }

  async function markRead(n, item) {
    try {
      await ctx.api.markRead(n.id);
      n.read = true;
      if (item) {
        item.classList.remove('unread');
        item.querySelector('.mark-read')?.remove();
        item.querySelector('.unread-dot')?.remove();
        item.querySelector('.notif-title')?.focus();
      }
      ctx.refreshBell();
      updateSummary();
    } catch (e) {
      replace(status, h('p', { class: 'alert alert-error', role: 'alert' }, `Could not mark it as read: ${e.message}`));
    }
  }

  let unread = 0;
  function updateSummary() {
    unread = list.querySelectorAll('.notif.unread').length;
    replace(summary, unread ? `${unread} unread on this page.` : 'You are all caught up.');
  }

  function item(n) {
    const li = h('li', {
      class: `notif priority-${n.priority ?? 'normal'}${n.read ? '' : ' unread'}`,
      dataset: { notificationId: n.id, type: n.type ?? '' },
    });
    const when = h('time', { datetime: n.created_at, title: formatDateTime(n.created_at, timeZone) }, relativeTime(n.created_at));
    li.append(
      h('div', { class: 'notif-head' },
        n.read ? null : h('span', { class: 'unread-dot' }, h('span', { class: 'sr-only' }, 'Unread: ')),
        h('h2', { class: 'notif-title', tabindex: '-1' }, n.title),
        PRIORITY[n.priority] ? h('span', { class: `priority priority-tag-${n.priority}` }, PRIORITY[n.priority]) : null),
      h('p', { class: 'notif-message' }, n.message),
      h('div', { class: 'notif-foot' },
        when,
        h('div', { class: 'notif-actions' },
          actionLink(n),
          n.read ? null : h('button', { type: 'button', class: 'btn btn-quiet mark-read', onclick: () => markRead(n, li) }, 'Mark as read'))));
    return li;
  }

  async function loadPage(cursor) {
    replace(more, h('p', { class: 'muted' }, spinner(), ' Loading…'));
    try {
      const page = await ctx.api.notifications({ limit: PAGE_SIZE, cursor });
      loadingNote?.remove();
      list.append(...page.items.map(item));
      if (!list.children.length) list.replaceWith(h('p', { class: 'empty' }, 'No notifications yet. Booking a consultation sends you one.'));
      replace(more, page.next_cursor
        ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => loadPage(page.next_cursor) }, 'Show older')
        : null);
      updateSummary();
    } catch (e) {
      loadingNote?.remove();
      replace(more);
      if (e.routeMissing) {
        replace(status, h('p', { class: 'alert alert-info' }, 'Notifications are not available in this deployment yet.'));
      } else {
        replace(status, h('p', { class: 'alert alert-error', role: 'alert' }, `Notifications could not be loaded: ${e.message}`));
      }
    }
  }

  (async () => {
    timeZone = (await ctx.profile().catch(() => null))?.time_zone;
    await loadPage();
  })();
}
