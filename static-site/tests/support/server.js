// Starts the real local server (medichain-local) on a free loopback port with a fresh data
// directory, and stops it again. Builds it first; cargo makes that a no-op when it is current.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let built = false;

function build() {
  if (built || process.env.MEDICHAIN_LOCAL_BIN) return;
  const r = spawnSync('cargo', ['build', '--quiet', '-p', 'medichain-local'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cargo build -p medichain-local failed');
  built = true;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(base, child, output) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`medichain-local exited (${child.exitCode}):\n${output()}`);
    try {
      const r = await fetch(`${base}/dev/users`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`medichain-local did not start in 30 s:\n${output()}`);
}

/** {base, stop(), login(userId), api(token, method, path, body)} */
export async function startServer() {
  build();
  const bin = process.env.MEDICHAIN_LOCAL_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target'), 'debug', 'medichain-local');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'medichain-web-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(bin, ['--addr', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    cwd: REPO,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  await waitUntilUp(base, child, () => log);

  const server = {
    base,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dataDir, { recursive: true, force: true });
    },
    async login(userId) {
      const r = await fetch(`${base}/dev/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: userId }),
      });
      if (!r.ok) throw new Error(`login ${userId}: ${r.status}`);
      return (await r.json()).token;
    },
    /** Calls the API directly (to check what the UI shows, or to arrange a state). */
    async api(token, method, apiPath, body) {
      const r = await fetch(`${base}${apiPath}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    /** POST/GET on /dev routes; returns {status, body}. */
    async dev(method, devPath, body) {
      const r = await fetch(`${base}${devPath}`, {
        method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
      return { status: r.status, body: parsed };
    },
  };
  return server;
}
