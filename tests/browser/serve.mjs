// A real `payfac serve` for the end-to-end browser tests: a free port, the
// binary in PAYFAC_BIN, start, wait for /healthz, stop (SIGTERM, then
// SIGKILL after 10 s), and the CLI for setup.

import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const PAYFAC_BIN = process.env.PAYFAC_BIN ? resolve(process.env.PAYFAC_BIN) : '';

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

export function run(bin, args, timeoutMs = 60_000) {
  return new Promise((res) => {
    execFile(bin, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      res({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr, error });
    });
  });
}

// Start `payfac serve` and keep the tail of its output for failure messages.
export function startServer(args) {
  const child = spawn(PAYFAC_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' } });
  let log = '';
  const keep = (chunk) => { log = (log + chunk.toString('utf8')).slice(-20_000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exit = new Promise((r) => child.once('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  return {
    child,
    log: () => log,
    exited: () => exited,
    async stop() {
      if (exited) return exited;
      child.kill('SIGTERM');
      const done = await Promise.race([exit, sleep(10_000, null, { ref: false })]);
      if (done) return done;
      child.kill('SIGKILL');
      return exit;
    },
  };
}

export async function waitHealthy(origin, server, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (server.exited()) {
      throw new Error(`payfac serve exited early (${JSON.stringify(server.exited())}):\n${server.log()}`);
    }
    try {
      const r = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String(e && e.cause ? e.cause.code || e.cause : e);
    }
    await sleep(200);
  }
  throw new Error(`payfac serve not healthy after ${timeoutMs} ms (last: ${last}):\n${server.log()}`);
}
