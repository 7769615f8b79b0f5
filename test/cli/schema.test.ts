// The JSON schemas of the CLI's --json output (docs/schema/), checked with
// ajv against the real output of the built CLI (node dist/cli.js) on every
// example under each policy, and against objects that break what cli.md
// promises (a key missing, a wrong type), which they must reject.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020';
import { beforeAll, describe, expect, test } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli.js');
const POLICIES = ['zap', 'update', 'access', 'tdp'];
const run = promisify(execFile);

const runSchema = JSON.parse(readFileSync(resolve(ROOT, 'docs/schema/run.schema.json'), 'utf8'));
const compareSchema = JSON.parse(readFileSync(resolve(ROOT, 'docs/schema/compare.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(runSchema);
const validateRun = ajv.compile(runSchema);
const validateCompare = ajv.compile(compareSchema);

const examples = [
  ...readdirSync(resolve(ROOT, 'examples')).filter((f) => f.endsWith('.mmutrace')).map((f) => `examples/${f}`),
  ...readdirSync(resolve(ROOT, 'examples/recorded')).filter((f) => f.endsWith('.mmutrace.gz')).map((f) => `examples/recorded/${f}`),
].sort();

interface Out {
  stdout: string;
  stderr: string;
  code: number;
}
async function cli(args: string[]): Promise<Out> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { stdout: x.stdout, stderr: x.stderr, code: x.code };
  }
}

/** Runs `jobs` two at a time (the machine has two cores). */
async function pool<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

const errorsOf = (v: { errors?: unknown }): string => JSON.stringify(v.errors, null, 1);

let runs: { file: string; policy: string; out: Out }[];
let compares: { file: string; out: Out }[];

beforeAll(async () => {
  if (!existsSync(CLI)) await run(process.execPath, ['build.mjs'], { cwd: ROOT });
  runs = await pool(examples.flatMap((file) => POLICIES.map((policy) => async () => ({ file, policy, out: await cli(['run', file, '--policy', policy, '--json', '--audit']) }))));
  compares = await pool(examples.map((file) => async () => ({ file, out: await cli(['compare', file, '--json']) })));
}, 600_000);

describe('run.schema.json against `mmutrace run --json --audit`', () => {
  test('every example under every policy: valid, and the policy and file are the ones asked for', () => {
    expect(runs.length).toBe(examples.length * 4);
    for (const { file, policy, out } of runs) {
      // Exit 0 or 1 (an expect, livelock or audit violation): never 2, the examples are valid.
      expect(out.code, `${file} ${policy}: ${out.stderr}`).toBeLessThan(2);
      const json = JSON.parse(out.stdout);
      expect(validateRun(json), `${file} ${policy}: ${errorsOf(validateRun)}`).toBe(true);
      expect(json.policy).toBe(policy);
      expect(json.file).toBe(file);
      // stderr holds problem lines only (`FILE:LINE:COL: kind [policy]: ...`), nothing else.
      for (const line of out.stderr.split('\n').filter(Boolean)) expect(line.startsWith(`${file}:`), line).toBe(true);
    }
  });

  test('the livelocks are where engine.md and designs.md put them: exit 1 with a `livelock:` line', () => {
    // livelock-self-map: a user write to its own page table, under every shadow policy; livelock-shared-table:
    // a leaf built through a path that allowed less, which `access` avoids (the access bits are in the role).
    const expected = new Set(['self-map zap', 'self-map update', 'self-map access', 'shared-table zap', 'shared-table update']);
    for (const r of runs) {
      const name = /livelock-([a-z-]+)\.mmutrace$/.exec(r.file)?.[1];
      const json = JSON.parse(r.out.stdout);
      if (name && expected.has(`${name} ${r.policy}`)) {
        expect(json.livelocks, `${r.file} ${r.policy}`).toBeGreaterThan(0);
        expect(r.out.code).toBe(1);
        expect(r.out.stderr).toMatch(/^examples\/livelock-[a-z-]+\.mmutrace:\d+:1: livelock: /m);
      } else {
        expect(json.livelocks, `${r.file} ${r.policy}`).toBe(0);
      }
    }
  });

  // The example of cli.md (demand-fault under update), with the keys CHANGES.md
  // of 2026-12-04 added at the top level (livelocks, hangs).
  const spec = () => ({
    file: 'demand-fault.mmutrace',
    policy: 'update',
    mode: '64',
    events: 4,
    exits: { total: 3, pf: 3, fill: 1, inject: 1, emulate: 1, cr3: 0, invlpg: 0, npt: 0 },
    faults: 1,
    shadow: { pagesCreated: 4, pagesZapped: 0, sptesZapped: 0, sptesUpdated: 1, floods: 0, unshadowed: 0, reclaimed: 0, overLimit: 0, pagesAlive: 4 },
    expectations: { passed: 4, failed: 0 },
    livelocks: 0,
    hangs: 0,
    audit: { violations: 0, byFlaw: {} },
  });

  test("cli.md's example is valid; so is one with keys added later (cli.md: more keys may be added)", () => {
    expect(validateRun(spec()), errorsOf(validateRun)).toBe(true);
    expect(validateRun({ ...spec(), somethingNew: [1, 2], exits: { ...spec().exits, vmcall: 2 } })).toBe(true);
    expect(validateRun({ ...spec(), audit: { violations: 3, byFlaw: { '2': 2, unexplained: 1 } } }), errorsOf(validateRun)).toBe(true);
  });

  const broken: [string, (o: ReturnType<typeof spec>) => unknown][] = [
    ['no `exits` at all', ({ exits: _, ...o }) => o],
    ['no `exits.npt`', (o) => ({ ...o, exits: { ...o.exits, npt: undefined } })],
    ['no `shadow.pagesAlive`', (o) => ({ ...o, shadow: { ...o.shadow, pagesAlive: undefined } })],
    ['no `livelocks`', ({ livelocks: _, ...o }) => o],
    ['no `audit.byFlaw`', (o) => ({ ...o, audit: { violations: 0 } })],
    ['`events` as a string', (o) => ({ ...o, events: '4' })],
    ['`mode` as the number 64', (o) => ({ ...o, mode: 64 })],
    ['an unknown policy', (o) => ({ ...o, policy: 'shadow' })],
    ['a negative count', (o) => ({ ...o, faults: -1 })],
    ['a fractional count', (o) => ({ ...o, exits: { ...o.exits, total: 2.5 } })],
    ['`byFlaw` keyed by a name that is no flaw', (o) => ({ ...o, audit: { violations: 1, byFlaw: { nine: 1 } } })],
    ['`expectations.failed` as a boolean', (o) => ({ ...o, expectations: { passed: 4, failed: false } })],
    ['an array instead of the object', () => []],
  ];
  test.each(broken)('rejected: %s', (_, f) => {
    // JSON.stringify drops the keys set to undefined: what a CLI that forgot them would print.
    const o = JSON.parse(JSON.stringify(f(spec())));
    expect(validateRun(o)).toBe(false);
  });
});

describe('compare.schema.json against `mmutrace compare --json`', () => {
  test('every example: valid, one summary per policy, each under its own name', () => {
    for (const { file, out } of compares) {
      expect(out.code, `${file}: ${out.stderr}`).toBeLessThan(2);
      const json = JSON.parse(out.stdout);
      expect(validateCompare(json), `${file}: ${errorsOf(validateCompare)}`).toBe(true);
      // cli.md: compare defaults to all four policies.
      expect(Object.keys(json.policies)).toEqual(POLICIES);
      for (const p of POLICIES) expect(json.policies[p].policy).toBe(p);
    }
  });

  test('a compare limited to two policies is valid too', async () => {
    const out = await cli(['compare', 'examples/demand-fault.mmutrace', '--policies', 'zap,update', '--json']);
    const json = JSON.parse(out.stdout);
    expect(validateCompare(json), errorsOf(validateCompare)).toBe(true);
    expect(Object.keys(json.policies)).toEqual(['zap', 'update']);
  });

  test('rejected: no `policies`, an empty one, an unknown policy, a summary with a key missing, a run object itself', () => {
    const one = JSON.parse(compares.find((c) => c.file.endsWith('demand-fault.mmutrace'))!.out.stdout);
    const { exits: _, ...noExits } = one.policies.zap;
    expect(validateCompare({})).toBe(false);
    expect(validateCompare({ policies: {} })).toBe(false);
    expect(validateCompare({ policies: { ...one.policies, ept: one.policies.tdp } })).toBe(false);
    expect(validateCompare({ policies: { ...one.policies, zap: noExits } })).toBe(false);
    expect(validateCompare(one.policies.zap)).toBe(false);
  });
});
