// Who is signed in, and the bearer token for the API.
//
// Two modes, picked by config.json:
// - local:   the local server's demo sign-in (GET /dev/users, POST /dev/login). The demo token is
//            kept in sessionStorage so a reload or a typed URL keeps the demo user; it is signed by
//            the developer's own local server for fictional users and is useless anywhere else.
// - cognito: Cognito's hosted UI with the authorization-code flow and PKCE. Tokens live only in
//            this module's memory, never in any Web Storage. Moving between pages is client-side
//            (see router.js), so memory survives; a reload starts a new sign-in, which Cognito's own
//            session cookie completes without asking again. Only the one-time PKCE verifier and
//            `state` wait in sessionStorage during the redirect (they are not tokens and are
//            deleted as soon as the code is exchanged).

const LOCAL_SESSION_KEY = 'medichain.local-session';
const PKCE_KEY = 'medichain.pkce';
const REFRESH_MARGIN_SECONDS = 60;

/** The page a role lands on after signing in, and returns to from a video call. */
export function homeFor(role) {
  return role === 'doctor' ? '/schedule/' : '/appointments/';
}

/** `next` values are only ever in-app paths, so a crafted link cannot send users elsewhere. */
export function safeInAppPath(path) {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) return null;
  if (path.includes('\\')) return null;
  return path;
}

export class Auth {
  #config;
  #session = null; // {token, user: {id, role, name}, expiresAt?, refreshToken?}

  constructor(config) {
    this.#config = config;
  }

  get mode() {
    return this.#config.auth.mode;
  }

  get user() {
    return this.#session?.user ?? null;
  }

  /** Restores a session without user interaction, if there is one to restore. */
  restore() {
    if (this.mode !== 'local') return this.user;
    try {
      const saved = JSON.parse(sessionStorage.getItem(LOCAL_SESSION_KEY) ?? 'null');
      if (saved?.token && saved?.user?.id && saved?.user?.role) this.#session = saved;
    } catch {
      sessionStorage.removeItem(LOCAL_SESSION_KEY);
    }
    return this.user;
  }

  /** The current bearer token (refreshed first when a Cognito token is about to expire). */
  async token() {
    const s = this.#session;
    if (!s) return null;
    if (this.mode === 'cognito' && s.expiresAt && s.expiresAt - REFRESH_MARGIN_SECONDS < now()) {
      await this.#refresh();
    }
    return this.#session?.token ?? null;
  }

  /** Forgets the session (after a 401, or on sign-out). */
  forget() {
    this.#session = null;
    sessionStorage.removeItem(LOCAL_SESSION_KEY);
  }

  // ---- local demo sign-in ----

  async demoUsers() {
    const r = await fetch(`${this.#config.api_base}/dev/users`, { headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(`The demo users could not be loaded (${r.status}).`);
    return r.json();
  }

  async signInAs(userId) {
    const r = await fetch(`${this.#config.api_base}/dev/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ user_id: userId }),
    });
    if (!r.ok) throw new Error(`Signing in failed (${r.status}).`);
    const { token, user } = await r.json();
    this.#session = { token, user: { id: user.id, role: user.role, name: user.name } };
    sessionStorage.setItem(LOCAL_SESSION_KEY, JSON.stringify(this.#session));
    return this.user;
  }

  // ---- Cognito hosted UI, authorization code + PKCE ----

  /** Sends the browser to the hosted UI; it comes back to redirect_uri with ?code&state. */
  async beginCognitoSignIn(next = '/') {
    const { domain, client_id, redirect_uri, scope } = this.#config.auth;
    const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
    const challenge = base64url(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
    );
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, next: safeInAppPath(next) ?? '/' }));
    const url = new URL(`${domain}/oauth2/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri,
      scope: scope ?? 'openid email profile',
      state,
      code_challenge_method: 'S256',
      code_challenge: challenge,
    }).toString();
    window.location.assign(url.toString());
  }

  /** True when this page load is the hosted UI's redirect back to us. */
  isCognitoCallback() {
    const q = new URLSearchParams(window.location.search);
    return this.mode === 'cognito' && q.has('state') && (q.has('code') || q.has('error'));
  }

  /** Exchanges the code for tokens; returns the in-app path the user was going to. */
  async completeCognitoSignIn() {
    const q = new URLSearchParams(window.location.search);
    const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null');
    sessionStorage.removeItem(PKCE_KEY);
    // Drop the code from the address bar and history either way.
    window.history.replaceState(null, '', window.location.pathname);
    if (q.get('error')) throw new Error(`Sign-in was not completed: ${q.get('error_description') ?? q.get('error')}`);
    if (!pending || pending.state !== q.get('state')) {
      throw new Error('This sign-in link is stale or was not started here. Please sign in again.');
    }
    const { client_id, redirect_uri } = this.#config.auth;
    await this.#tokenRequest({
      grant_type: 'authorization_code',
      client_id,
      code: q.get('code'),
      redirect_uri,
      code_verifier: pending.verifier,
    });
    return pending.next;
  }

  async #refresh() {
    const refreshToken = this.#session?.refreshToken;
    if (!refreshToken) {
      this.forget();
      return;
    }
    try {
      await this.#tokenRequest(
        { grant_type: 'refresh_token', client_id: this.#config.auth.client_id, refresh_token: refreshToken },
        refreshToken,
      );
    } catch {
      this.forget();
    }
  }

  async #tokenRequest(form, keepRefreshToken) {
    const r = await fetch(`${this.#config.auth.domain}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    if (!r.ok) throw new Error(`Cognito refused the sign-in (${r.status}).`);
    const tokens = await r.json();
    // The ID token carries `name` and `cognito:groups`, which the API's JWT authorizer reads.
    const claims = decodeJwtPayload(tokens.id_token);
    this.#session = {
      token: tokens.id_token,
      refreshToken: tokens.refresh_token ?? keepRefreshToken,
      expiresAt: claims.exp,
      user: { id: claims.sub, role: roleFromGroups(claims['cognito:groups']), name: claims.name ?? claims.email ?? 'MediChain user' },
    };
  }

  /** Signs out; in Cognito mode also ends the hosted UI session. */
  signOut() {
    const wasCognito = this.mode === 'cognito' && this.#session;
    this.forget();
    if (wasCognito) {
      const { domain, client_id, logout_uri } = this.#config.auth;
      const url = new URL(`${domain}/logout`);
      url.search = new URLSearchParams({ client_id, logout_uri: logout_uri ?? `${window.location.origin}/` }).toString();
      window.location.assign(url.toString());
      return true;
    }
    return false;
  }
}

function roleFromGroups(groups) {
  const list = Array.isArray(groups) ? groups : String(groups ?? '').split(/[\s,[\]"]+/);
  const roles = new Set(list.map((g) => ({ patients: 'patient', doctors: 'doctor' })[g]).filter(Boolean));
  return roles.size === 1 ? [...roles][0] : null;
}

function decodeJwtPayload(jwt) {
  const part = String(jwt ?? '').split('.')[1];
  if (!part) throw new Error('Cognito returned no ID token.');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function now() {
  return Math.floor(Date.now() / 1000);
}
