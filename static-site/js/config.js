// The runtime settings of this deployment, read from /config.json so one build of the site serves
// the local server and every AWS stage (a publisher writes the AWS values next to the files).

const DEFAULTS = Object.freeze({
  api_base: '',
  jitsi_domain: 'meet.jit.si',
  auth: Object.freeze({ mode: 'local' }),
});

let loaded;

/** Fetches and checks config.json once; a missing or broken file is an error the page shows. */
export function loadConfig() {
  loaded ??= fetch('/config.json', { cache: 'no-store', credentials: 'same-origin' })
    .then((r) => {
      if (!r.ok) throw new Error(`config.json answered ${r.status}`);
      return r.json();
    })
    .then(validate);
  return loaded;
}

function validate(raw) {
  const config = { ...DEFAULTS, ...raw, auth: { ...DEFAULTS.auth, ...(raw?.auth ?? {}) } };
  config.api_base = String(config.api_base ?? '').replace(/\/+$/, '');
  if (!/^[a-z0-9.-]+(:\d+)?$/i.test(config.jitsi_domain)) {
    throw new Error('config.json: jitsi_domain must be a host name such as meet.jit.si');
  }
  if (config.auth.mode === 'cognito') {
    for (const key of ['domain', 'client_id', 'redirect_uri']) {
      if (!config.auth[key]) throw new Error(`config.json: auth.${key} is required for Cognito`);
    }
    // Accept "example.auth.eu-west-1.amazoncognito.com" as well as a full https:// URL.
    config.auth.domain = String(config.auth.domain).replace(/\/+$/, '');
    if (!/^https:\/\//.test(config.auth.domain)) config.auth.domain = `https://${config.auth.domain}`;
  } else if (config.auth.mode !== 'local') {
    throw new Error(`config.json: unknown auth.mode ${JSON.stringify(config.auth.mode)}`);
  }
  return Object.freeze(config);
}
