// A modal yes/no question on the native <dialog> element (focus trap, Escape to close and
// screen-reader semantics come with it). Resolves true when confirmed.

import { h } from './dom.js';

export function confirmDialog({ title, message, confirmLabel, cancelLabel = 'Keep it', danger = false }) {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${Date.now()}`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('form', { method: 'dialog', class: 'dialog-body' },
        h('h2', { id: titleId }, title),
        h('p', {}, message),
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'submit', value: 'no', class: 'btn btn-secondary', autofocus: true }, cancelLabel),
          h('button', { type: 'submit', value: 'yes', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirmLabel))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'yes');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
