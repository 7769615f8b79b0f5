// The fuzz command's short seeded run (issue 14.5): a few seconds of every
// part but `protocol` (hostile framing, whose known failures belong to the
// request reader: run `npm run fuzz` for it). It must find nothing, and must
// have tried inputs of each part.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

it('a short seeded run of the parser, the evaluator, the command and the adapter finds no failure', () => {
  const out = mkdtempSync(join(tmpdir(), 'mmutrace-fuzz-test-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'fuzz.js'), '--seconds', '6', '--seed', '20261204', '--parts', 'parser,expr,cli,adapter', '--out', out, '--hang-ms', '30000'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stdout).toContain('fuzz: seed 20261204');
  expect(r.stdout).toContain('fuzz: no failure');
  expect(r.status).toBe(0);
  const m = /inputs tried: parser (\d+), expr (\d+), cli (\d+), adapter (\d+)/.exec(r.stdout);
  expect(m).not.toBeNull();
  for (const n of m!.slice(1)) expect(Number(n)).toBeGreaterThan(0);
  expect(readdirSync(out)).toEqual([]);
}, 130_000);

it('the fuzzer stops at a failure and saves its input under the folder it names', () => {
  // The protocol part sends a body of `null` among its hostile frames; whatever
  // it finds, a failure must come with a saved input, and no failure with none.
  const out = mkdtempSync(join(tmpdir(), 'mmutrace-fuzz-test-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'fuzz.js'), '--seconds', '3', '--seed', '1', '--parts', 'protocol', '--out', out, '--hang-ms', '30000'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 1) {
    const saved = /the input is saved in (.+)/.exec(r.stdout)![1]!;
    expect(saved.startsWith(out)).toBe(true);
    expect(readdirSync(saved).sort()).toEqual(['failure.txt', 'program.txt', 'requests.txt', 'session.mmutrace']);
  } else {
    expect(r.status).toBe(0);
    expect(readdirSync(out)).toEqual([]);
  }
}, 130_000);
