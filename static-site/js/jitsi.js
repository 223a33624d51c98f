// The Jitsi IFrame External API: loading its script from the deployment's Jitsi domain, and the
// meeting options every MediChain consultation uses.

const LOAD_TIMEOUT_MS = 20_000;

/**
 * Everything a consultation needs, and nothing that would take it outside the two participants:
 * no invite or embed (the room is for this appointment only), no recording or live streaming
 * (they would store or broadcast a medical consultation with a third party), no shared YouTube
 * video or Salesforce link.
 */
export const TOOLBAR_BUTTONS = Object.freeze([
  'microphone', 'camera', 'desktop', 'chat', 'raisehand', 'reactions', 'participants-pane',
  'tileview', 'toggle-camera', 'fullscreen', 'select-background', 'noisesuppression',
  'closedcaptions', 'videoquality', 'filmstrip', 'settings', 'shortcuts', 'stats', 'help',
  'security', 'whiteboard', 'hangup',
]);

/** Loads https://{domain}/external_api.js once; a failed load can be retried. */
export function loadExternalApi(domain) {
  const src = `https://${domain}/external_api.js`;
  const present = document.querySelector(`script[data-jitsi-domain="${CSS.escape(domain)}"][data-loaded]`);
  if (present && typeof window.JitsiMeetExternalAPI === 'function') {
    return Promise.resolve(window.JitsiMeetExternalAPI);
  }
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.dataset.jitsiDomain = domain;
    const fail = (reason) => {
      clearTimeout(timer);
      script.remove();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail(`The video service at ${domain} did not answer in time.`), LOAD_TIMEOUT_MS);
    script.addEventListener('load', () => {
      clearTimeout(timer);
      if (typeof window.JitsiMeetExternalAPI !== 'function') {
        fail(`The video service at ${domain} sent an unexpected script.`);
        return;
      }
      script.dataset.loaded = '';
      resolve(window.JitsiMeetExternalAPI);
    });
    script.addEventListener('error', () => fail(`The video service at ${domain} could not be reached.`));
    document.head.append(script);
  });
}

/** The constructor options of one consultation. */
export function meetingOptions({ room, displayName, jwt, parentNode, onload }) {
  const options = {
    roomName: room,
    parentNode,
    width: '100%',
    height: '100%',
    userInfo: { displayName },
    onload,
    configOverwrite: {
      prejoinConfig: { enabled: true },
      startWithAudioMuted: false,
      startWithVideoMuted: false,
      p2p: { enabled: true },
      // Phones would otherwise be sent to the app store instead of the meeting.
      disableDeepLinking: true,
      disableInviteFunctions: true,
      toolbarButtons: [...TOOLBAR_BUTTONS],
    },
    interfaceConfigOverwrite: {
      APP_NAME: 'MediChain',
      NATIVE_APP_NAME: 'MediChain',
      PROVIDER_NAME: 'MediChain',
      SHOW_JITSI_WATERMARK: false,
      SHOW_WATERMARK_FOR_GUESTS: false,
      SHOW_BRAND_WATERMARK: false,
      SHOW_POWERED_BY: false,
      MOBILE_APP_PROMO: false,
      DEFAULT_REMOTE_DISPLAY_NAME: 'Participant',
      // Older Jitsi deployments read the toolbar from here, newer ones from configOverwrite.
      TOOLBAR_BUTTONS: [...TOOLBAR_BUTTONS],
    },
  };
  if (jwt) options.jwt = jwt;
  return options;
}
