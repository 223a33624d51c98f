// What the tests serve in place of https://<jitsi domain>/external_api.js: a JitsiMeetExternalAPI
// that records each construction (domain and options) on window.__jitsi and lets a test emit the
// meeting's events (window.__jitsi.emit('videoConferenceJoined', {...})), and records the commands
// the page sends (executeCommand) and dispose().

export const STAND_IN_SOURCE = `(() => {
  const log = window.__jitsi = window.__jitsi || { instances: [], current: null };
  log.emit = (event, payload) => log.current && log.current.emit(event, payload);
  class JitsiMeetExternalAPI {
    constructor(domain, options) {
      const { parentNode, onload, ...rest } = options || {};
      this.listeners = {};
      this.record = {
        domain,
        options: JSON.parse(JSON.stringify(rest)),
        parentNodeId: parentNode ? parentNode.id : null,
        hasOnload: typeof onload === 'function',
        disposed: false,
        events: [],
        commands: [],
      };
      log.instances.push(this.record);
      log.current = this;
      this.frame = document.createElement('div');
      this.frame.className = 'jitsi-stand-in';
      this.frame.textContent = 'Jitsi stand-in: ' + rest.roomName;
      (parentNode || document.body).append(this.frame);
      if (onload) setTimeout(onload, 0);
    }
    addListener(event, fn) { (this.listeners[event] = this.listeners[event] || []).push(fn); this.record.events.push(event); return this; }
    on(event, fn) { return this.addListener(event, fn); }
    addEventListener(event, fn) { return this.addListener(event, fn); }
    removeListener(event, fn) { this.listeners[event] = (this.listeners[event] || []).filter((f) => f !== fn); return this; }
    emit(event, payload) { for (const fn of this.listeners[event] || []) fn(payload); }
    executeCommand(...args) { this.record.commands.push(JSON.parse(JSON.stringify(args))); }
    dispose() { this.record.disposed = true; this.frame.remove(); if (log.current === this) log.current = null; }
  }
  window.JitsiMeetExternalAPI = JitsiMeetExternalAPI;
})();`;
