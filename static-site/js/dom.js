// Builds DOM nodes from data without ever parsing HTML: every string becomes a text node or an
// attribute value, so names and reasons typed by users cannot inject markup (and no inline
// styles or scripts are created, which the Content-Security-Policy forbids anyway).

/**
 * h('button', {class: 'btn', type: 'button', onclick: fn}, 'Label', child, ...)
 * Attributes: `class`, `for` and any other attribute by name; `on<event>` adds a listener;
 * `true` sets a boolean attribute, `false`/`null`/`undefined` leave it out.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A visually hidden label for screen readers. */
export function srOnly(text) {
  return h('span', { class: 'sr-only' }, text);
}

/** A small inline spinner with an accessible label. */
export function spinner(label = 'Loading') {
  return h('span', { class: 'spinner', role: 'status', 'aria-label': label });
}
