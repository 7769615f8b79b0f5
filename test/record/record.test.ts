// `mmutrace record` and `mmutrace import lackey` as real processes: a program
// compiled here with the machine's C compiler, recorded under Valgrind
// (installed by .ci/run), replayed under zap and update with the audit; the
// messages and exit statuses of bad input.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay } from './helpers';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mmutrace.js');
const dir = mkdtempSync(join(tmpdir(), 'mmutrace-record-'));

function mmutrace(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, cwd: opts.cwd ?? dir, maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The page number → leaves written for it, in order, from a trace's `pte VA = ...` lines. */
function leavesByPage(text: string): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const l of text.split('\n')) {
    const r = /^pte 0x([0-9a-f]+) = (.*)$/.exec(l);
    if (!r) continue;
    const page = Math.floor(parseInt(r[1]!, 16) / 4096);
    m.set(page, [...(m.get(page) ?? []), r[2]!]);
  }
  return m;
}

describe('record a real program', () => {
  let program = '';
  beforeAll(() => {
    // The example's program, compiled here (static when the C library allows it: fewer accesses of the dynamic loader).
    program = join(dir, 'pages');
    const src = join(root, 'examples', 'recorded', 'pages.c');
    try {
      execFileSync('cc', ['-O1', '-static', '-o', program, src], { stdio: 'pipe' });
    } catch {
      execFileSync('cc', ['-O1', '-o', program, src], { stdio: 'pipe' });
    }
  });

  it('Valgrind is there (.ci/run installs it)', () => {
    expect(spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^valgrind-/);
  });

  it('records it to a .gz file that parses and replays under zap and update with no violation, livelock or hang', () => {
    const out = join(dir, 'pages.mmutrace.gz');
    const r = mmutrace(['record', '--out', out, '--', program]);
    expect(r.err).toMatch(/wrote .*pages\.mmutrace\.gz: \d+ Lackey accesses -> \d+ access events \(\d+\.\d\d:1\)/);
    expect(r.out.trim()).toBe('240'); // the program's own output
    expect(r.code).toBe(0);
    const text = gunzipSync(readFileSync(out)).toString('utf8');
    expect(text).toContain(`# Recorded by: mmutrace record --out ${out} -- ${program}\n`);
    for (const policy of ['zap', 'update']) {
      const s = replay(text, policy, true);
      expect({ policy, violations: s.violations, livelocks: s.livelocks, hangs: s.hangs }).toEqual({ policy, violations: 0, livelocks: 0, hangs: 0 });
      expect(s.exits.inject).toBeGreaterThan(0);
    }
    // The program reads 16 pages before it writes them: each is mapped to the zero page, then copied on write.
    const leaves = leavesByPage(text);
    const cow = [...leaves.values()].filter((l) => l[0]!.startsWith('0x202000 P U A NX') && l.length === 2 && l[1]!.endsWith('P W U A D'));
    expect(cow.length).toBeGreaterThanOrEqual(16);
    // And writes 16 pages first: a fresh frame each, never rewritten.
    expect([...leaves.values()].filter((l) => l.length === 1 && l[0]!.endsWith('P W U A D')).length).toBeGreaterThanOrEqual(16);
    const check = mmutrace(['check', '--audit', '--policy', 'all', out]);
    expect(check.err).toBe('');
    expect(check.code).toBe(0);
  });

  it('records children as their own spaces with --trace-children, and stops at --max-events', () => {
    const out = join(dir, 'sh.mmutrace');
    const r = mmutrace(['record', '--trace-children', '--mode', '64', '--out', out, '--', '/bin/sh', '-c', `${program}; ${program}`]);
    expect(r.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    // sh, then each child: `# process N: pid P, <command>` and a cr3 to its own root.
    expect(text).toMatch(/# process 2: pid \d+, .*pages/);
    expect(text).toMatch(/# process 3: pid \d+, .*pages/);
    for (const policy of ['zap', 'update']) {
      const s = replay(text, policy, true);
      expect({ policy, violations: s.violations, livelocks: s.livelocks, hangs: s.hangs }).toEqual({ policy, violations: 0, livelocks: 0, hangs: 0 });
      expect(s.exits.cr3).toBeGreaterThanOrEqual(4); // to each child and back
    }
    const cut = join(dir, 'cut.mmutrace');
    const c = mmutrace(['record', '--max-events', '500', '--out', cut, '--', program]);
    expect(c.code).toBe(0);
    expect(c.err).toContain('stopped at 500 events');
    const ct = readFileSync(cut, 'utf8');
    const accesses = ct.split('\n').filter((l) => /^(read|write|exec) /.test(l)).length;
    expect(accesses).toBeGreaterThanOrEqual(500);
    expect(accesses).toBeLessThan(500 + 3);
    expect(replay(ct, 'zap', true).violations).toBe(0);
  });

  it('says exactly that Valgrind is missing and how to install it (exit 2)', () => {
    const r = mmutrace(['record', '--out', join(dir, 'none.mmutrace'), '--', program], { env: { ...process.env, MMUTRACE_VALGRIND: join(dir, 'no-valgrind') } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('Valgrind is not installed');
    expect(r.err).toContain('apt-get install valgrind');
    expect(existsSync(join(dir, 'none.mmutrace'))).toBe(false);
  });
});

describe('import lackey', () => {
  it('converts a file to stdout, and - reads stdin', () => {
    const f = join(dir, 'a.log');
    writeFileSync(f, '==7== Command: ./a\nI  00400000,3\n L 00601000,8\n');
    const a = mmutrace(['import', 'lackey', f]);
    expect(a.code).toBe(0);
    expect(a.out).toContain('\nexec 0x400000\n');
    expect(a.out).toContain(`# Imported by: mmutrace import lackey ${f}\n`);
    const b = mmutrace(['import', 'lackey', '-'], { input: 'I  00400000,3\n L 00601000,8\n' });
    expect(b.code).toBe(0);
    expect(b.out.split('\n').filter((l) => !l.startsWith('#'))).toEqual(a.out.split('\n').filter((l) => !l.startsWith('#')));
  });

  it('a malformed line is FILE:LINE:COL: error, exit 2, and no output file is left', () => {
    const f = join(dir, 'bad.log');
    writeFileSync(f, 'I  00400000,3\nI  0040zz00,3\n');
    const out = join(dir, 'bad.mmutrace');
    const r = mmutrace(['import', 'lackey', f, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:8: error: expected \`,\``));
    expect(existsSync(out)).toBe(false);
  });

  it('a truncated log converts what it has and says so (exit 0)', () => {
    const f = join(dir, 'cut.log');
    writeFileSync(f, 'I  00400000,3\n L 00601000,8\n S 0060');
    const out = join(dir, 'cut.mmutrace.gz');
    const r = mmutrace(['import', 'lackey', f, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${f}:3:1: warning: the log ends in the middle of a line`);
    const text = gunzipSync(readFileSync(out)).toString('utf8');
    expect(text).toContain('\nread 0x601000\n');
    expect(text).not.toMatch(/^write /m);
    expect(mmutrace(['run', '--audit', out]).code).toBe(0);
  });

  it('check on a .gz file that is not gzip says it cannot read it (exit 2)', () => {
    const f = join(dir, 'not.mmutrace.gz');
    writeFileSync(f, 'read 0x1000\n');
    const r = mmutrace(['check', f]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:1:1: error: cannot read: incorrect header check`);
  });

  it('wrong command lines are usage errors (exit 2)', () => {
    expect(mmutrace(['import', 'pin', 'x']).err).toContain('unknown import format `pin`');
    expect(mmutrace(['record', '--mode', '48', '--', 'true']).err).toContain('--mode takes 64, pae or 32');
    expect(mmutrace(['record', '--quantum', '0', '--', 'true']).code).toBe(2);
    expect(mmutrace(['record']).err).toContain('needs a command');
    expect(mmutrace(['import', 'lackey', join(dir, 'nope.log')]).err).toContain('no such file');
  });
});

describe('the shipped recordings (examples/recorded)', () => {
  it('check clean under every policy with the audit, each with the exact command in its header', () => {
    for (const name of ['pages.mmutrace.gz', 'seq.mmutrace.gz']) {
      const f = join(root, 'examples', 'recorded', name);
      const head = gunzipSync(readFileSync(f)).toString('utf8').slice(0, 400);
      expect(head).toMatch(/^# Recorded by: mmutrace record --out \S+ -- \S+/);
      expect(head).toContain('which ran: valgrind --tool=lackey --trace-mem=yes');
      const r = mmutrace(['check', '--audit', '--policy', 'all', f]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    }
  });
});
