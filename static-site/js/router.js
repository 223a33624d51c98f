// Client-side navigation between the app's pages. Every page also exists as a real file (so a
// typed URL, a reload or a CloudFront request works), but links inside the app switch pages
// without a reload, which keeps the in-memory Cognito tokens and avoids a sign-in round trip.

export class Router {
  #routes;
  #render;

  /** routes: [{pattern: RegExp, ...}]; render(route, match, url) draws a page. */
  constructor(routes, render) {
    this.#routes = routes;
    this.#render = render;
  }

  match(pathname) {
    for (const route of this.#routes) {
      const m = route.pattern.exec(pathname);
      if (m) return { route, params: m.slice(1).map(decodeParam) };
    }
    return null;
  }

  start() {
    document.addEventListener('click', (event) => this.#onClick(event));
    window.addEventListener('popstate', () => this.#show(new URL(window.location.href)));
    return this.#show(new URL(window.location.href));
  }

  /** Goes to an in-app path (pushes history unless `replace`). */
  navigate(path, { replace = false } = {}) {
    const url = new URL(path, window.location.origin);
    if (url.origin !== window.location.origin) {
      window.location.assign(url.toString());
      return Promise.resolve();
    }
    if (replace) window.history.replaceState(null, '', url);
    else window.history.pushState(null, '', url);
    return this.#show(url);
  }

  #onClick(event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = event.target.closest?.('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.reload !== undefined) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || !this.match(url.pathname)) return;
    event.preventDefault();
    this.navigate(url.pathname + url.search + url.hash);
  }

  #show(url) {
    const found = this.match(url.pathname);
    return this.#render(found?.route ?? null, found?.params ?? [], url);
  }
}

/**
 * A path segment decoded, or left as typed when it is not valid percent-encoding (`%E0`): the
 * page then refuses it as it refuses any other malformed value, instead of the whole app throwing.
 */
function decodeParam(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
