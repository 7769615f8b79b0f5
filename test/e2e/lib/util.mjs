// Small helpers shared by the harness: logging with elapsed time, running
// commands with their output shown, and waiting for a condition.
import { spawn } from 'node:child_process';
import { innerEnv } from './env.mjs';

const T0 = Date.now();
export const elapsed = () => ((Date.now() - T0) / 1000).toFixed(1);
export function log(...a) {
  console.log(`[e2e +${elapsed()}s]`, ...a);
}

/**
 * Runs a command to completion (by default in the environment of env.mjs: nothing
 * from an outer `npm run`, the harness's Node first on PATH), its output passed through (prefixed), and
 * rejects on a non-zero exit. The child gets a process group of its own so
 * that an interrupted run can kill it and everything it started.
 */
export function run(cmd, args, opts = {}) {
  const { env = innerEnv(), cwd, quiet = false, prefix = '  | ' } = opts;
  log(`$ ${[cmd, ...args].join(' ')}${cwd ? `   (in ${cwd})` : ''}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(child);
    let out = '';
    const onData = (chunk) => {
      const s = chunk.toString();
      out += s;
      if (out.length > 200000) out = out.slice(-100000);
      if (!quiet) process.stdout.write(s.replace(/^(?=.)/gm, prefix));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      untrack(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      untrack(child);
      if (code === 0) resolve(out);
      else {
        const err = new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`);
        err.output = out;
        reject(err);
      }
    });
  });
}

// Every child started through `run` or `startDetached`, so that a failure or
// a signal can end them all (their whole process groups).
const children = new Set();
export function track(child) {
  children.add(child);
}
export function untrack(child) {
  children.delete(child);
}

/** Sends a signal to a child's process group (it was spawned detached, so pgid == pid). */
export function killGroup(child, signal = 'SIGTERM') {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Is any process of that group still alive? */
export function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends a detached child's process group: SIGTERM, then SIGKILL after `graceMs`; resolves when the group is gone. */
export async function stopGroup(child, graceMs = 5000) {
  if (!child.pid) return;
  killGroup(child, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(child.pid) && Date.now() < deadline) await sleepPoll(100);
  if (groupAlive(child.pid)) {
    log(`process group ${child.pid} did not stop on SIGTERM; SIGKILL`);
    killGroup(child, 'SIGKILL');
    const hard = Date.now() + 5000;
    while (groupAlive(child.pid) && Date.now() < hard) await sleepPoll(100);
  }
  untrack(child);
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stopGroup(c)));
}

/** The poll interval of `waitUntil`: a pause between two checks of a condition, never a wait for a fixed time. */
export function sleepPoll(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
export async function waitUntil(check, { timeoutMs = 30000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleepPoll(interval);
  }
}
