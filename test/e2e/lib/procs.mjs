// The last check of a run: no process that the run started may be left. A
// process counts as the run's when its command line or its environment names
// the run folder (code-server and its children get XDG_* folders in it,
// chromium its profile). Any such process is killed and reported.

import { readdirSync, readFileSync } from 'node:fs';

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

function environ(pid) {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

export function runProcesses(runDir) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    const cmd = cmdline(pid);
    if (!cmd) continue;
    if (cmd.includes(runDir) || environ(pid).includes(runDir)) out.push({ pid, cmd });
  }
  return out;
}

/** Kills what is left of the run; returns a description of each process killed. */
export function leftovers(runDir) {
  const left = runProcesses(runDir);
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return left.map((p) => `${p.pid} ${p.cmd.slice(0, 160)}`);
}
