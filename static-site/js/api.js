// The MediChain API client: bearer token, JSON in and out, problem+json errors as ApiError.
// One method per route; pages never build URLs or headers themselves.

export class ApiError extends Error {
  constructor({ status, type, title, detail, body = null }) {
    super(detail || title || `The request failed (${status}).`);
    this.status = status;
    /** The whole problem document, for extension members such as `opens_at`. */
    this.body = body;
    this.type = type ?? 'about:blank';
    this.title = title ?? '';
    this.detail = detail ?? '';
  }

  /**
   * The route itself does not exist (yet) in this deployment: the local server answers
   * "route not found", API Gateway a bare {"message":"Not Found"}. Pages use this to hide a
   * feature gracefully instead of showing an error.
   */
  get routeMissing() {
    return this.status === 404 && (this.detail === 'route not found' || this.type === 'about:blank');
  }

  get isNetwork() {
    return this.status === 0;
  }

  /** The API's problem type is `/problems/{kind}` (e.g. `slot-taken`, `room-closed`). */
  is(kind) {
    return this.type === `/problems/${kind}` || this.type.endsWith(`/problems/${kind}`);
  }
}

export class Api {
  #base;
  #auth;
  #onUnauthorized;

  constructor({ base, auth, onUnauthorized }) {
    this.#base = base;
    this.#auth = auth;
    this.#onUnauthorized = onUnauthorized;
  }

  async request(method, path, { body, query, headers = {}, keepalive = false } = {}) {
    const url = new URL(`${this.#base}${path}`, window.location.origin);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
    }
    const token = await this.#auth.token();
    const init = {
      method,
      keepalive,
      headers: { accept: 'application/json, application/problem+json', ...headers },
    };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError({ status: 0, type: 'network', detail: 'The server could not be reached. Check your connection and try again.' });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = new ApiError({
        status: response.status,
        type: data?.type,
        title: data?.title,
        detail: data?.detail ?? data?.message,
        body: data,
      });
      if (response.status === 401) this.#onUnauthorized?.(error);
      throw error;
    }
    return data;
  }

  // ---- doctors and slots ----
  listDoctors() {
    return this.request('GET', '/api/doctors').then((r) => r.items);
  }

  /** Free slots of the doctor's local `date` (YYYY-MM-DD); times are UTC. */
  slots(doctorId, date) {
    return this.request('GET', `/api/doctors/${encodeURIComponent(doctorId)}/slots`, { query: { date } });
  }

  // ---- appointments ----
  /** `idempotencyKey` is one UUID per booking attempt, reused when the same attempt is retried. */
  book({ doctor_id, start, reason }, idempotencyKey) {
    const body = { doctor_id, start };
    if (reason) body.reason = reason;
    return this.request('POST', '/api/appointments', { body, headers: { 'idempotency-key': idempotencyKey } });
  }

  /** Every appointment of the caller (follows next_cursor), by start. */
  async listAppointments(query = {}) {
    const items = [];
    let cursor;
    do {
      const page = await this.request('GET', '/api/appointments', { query: { ...query, limit: 100, cursor } });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  getAppointment(id) {
    return this.request('GET', `/api/appointments/${encodeURIComponent(id)}`);
  }

  cancel(id) {
    return this.request('POST', `/api/appointments/${encodeURIComponent(id)}/cancel`, { body: {} });
  }

  reschedule(id, start) {
    return this.request('POST', `/api/appointments/${encodeURIComponent(id)}/reschedule`, { body: { start } });
  }

  // ---- video ----
  join(id) {
    return this.request('GET', `/api/appointments/${encodeURIComponent(id)}/join`);
  }

  /** `keepalive` lets a "left" report finish while the tab is closing. */
  callEvent(id, event, { keepalive = false } = {}) {
    return this.request('POST', `/api/appointments/${encodeURIComponent(id)}/call-events`, { body: { event }, keepalive });
  }

  // ---- profile and notifications ----
  me() {
    return this.request('GET', '/api/me');
  }

  notifications({ limit, cursor } = {}) {
    return this.request('GET', '/api/notifications', { query: { limit, cursor } });
  }

  markRead(id) {
    return this.request('POST', `/api/notifications/${encodeURIComponent(id)}/read`, { body: {} });
  }
}
