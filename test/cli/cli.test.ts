// The mmutrace command against cli.md: in-process through main() for the
// many cases, and as a real process through bin/mmutrace.js for the exit
// status and the streams.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';

const root = join(__dirname, '..', '..');
const ex = (name: string): string => join(root, 'examples', name);

function run(...argv: string[]): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function tmpFile(text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmutrace-cli-'));
  const f = join(dir, 't.mmutrace');
  writeFileSync(f, text);
  return f;
}

describe('run --json', () => {
  it('prints exactly the object of cli.md for the language.md example under update', () => {
    const r = run('run', ex('demand-fault.mmutrace'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    // cli.md gives this object for the example of language.md (our demand-fault.mmutrace) under update.
    expect(j).toMatchObject({
      policy: 'update',
      mode: '64',
      events: 4,
      exits: { total: 3, pf: 3, fill: 1, inject: 1, emulate: 1, cr3: 0, invlpg: 0 },
      faults: 1,
      shadow: { pagesCreated: 4, pagesZapped: 0, sptesZapped: 0, sptesUpdated: 1, floods: 0, unshadowed: 0, reclaimed: 0, overLimit: 0, pagesAlive: 4 },
      expectations: { passed: 4, failed: 0 },
      livelocks: 0,
      hangs: 0,
      audit: { violations: 0, byFlaw: {} },
    });
    expect(j.file).toContain('demand-fault.mmutrace');
  });

  it('under zap the retry refaults: one more fill, nothing updated', () => {
    const j = JSON.parse(run('run', ex('demand-fault.mmutrace'), '--json', '--policy', 'zap').out);
    expect(j.exits).toEqual({ total: 4, pf: 4, fill: 2, inject: 1, emulate: 1, cr3: 0, invlpg: 0, npt: 0 });
    expect(j.shadow.sptesUpdated).toBe(0);
  });
});

describe('compare', () => {
  it("shows the seed's pattern costing three exits under zap and two under update from @fault", () => {
    const r = run('compare', ex('demand-fault.mmutrace'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    // cli.md: all four policies by default; designs.md's table: 3, 2, 2 and 1 exits from @fault.
    expect(Object.keys(j.policies)).toEqual(['zap', 'update', 'access', 'tdp']);
    expect(j.policies.zap.fromLabel.fault.exits).toBe(3);
    expect(j.policies.update.fromLabel.fault.exits).toBe(2);
    expect(j.policies.access.fromLabel.fault.exits).toBe(2);
    expect(j.policies.tdp.fromLabel.fault.exits).toBe(1);
    expect(j.policies.tdp.exits).toMatchObject({ npt: 6, pf: 0, cr3: 0 });
  });

  it('prints a table with a column per policy', () => {
    const r = run('compare', ex('demand-fault.mmutrace'));
    expect(r.out).toMatch(/^\s+zap\s+update\s+access\s+tdp$/m);
    // tdp: the first read touches 4 tables and its page (5), the retry the new page (1).
    expect(r.out).toMatch(/^VM exits\s+4\s+3\s+3\s+6$/m);
    expect(r.out).toMatch(/^\s+from @fault\s+3\s+2\s+2\s+1$/m);
    expect(r.out).toMatch(/^\s+page-fault: fill\s+2\s+1\s+1\s+0$/m);
    expect(r.out).toMatch(/^\s+npt\s+0\s+0\s+0\s+6$/m);
  });

  it('takes --policies', () => {
    const j = JSON.parse(run('compare', ex('demand-fault.mmutrace'), '--policies', 'update', '--json').out);
    expect(Object.keys(j.policies)).toEqual(['update']);
  });
});

describe('check', () => {
  it('every example holds under every policy (the livelock examples print their livelock and exit 1, by design)', () => {
    const all = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.mmutrace'));
    const files = all.filter((f) => !f.startsWith('livelock-')).map(ex);
    expect(files.length).toBeGreaterThanOrEqual(12);
    const r = run('check', ...files, '--policy', 'all');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // engine.md, "The retry": the user read through the shared table (line 21) and the user write
    // to the self-mapped table (line 18) livelock under both 2007 policies; every expect holds.
    const l = run('check', ex('livelock-shared-table.mmutrace'), ex('livelock-self-map.mmutrace'), '--policy', 'all');
    expect(l.code).toBe(1);
    const lines = l.err.trim().split('\n');
    // designs.md: `access` keeps the unshadow (and so the self-map livelock) but not the shared
    // table's; `tdp` has neither.
    expect(lines).toHaveLength(5);
    for (const p of ['zap', 'update']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`livelock-shared-table\\.mmutrace:23:1: livelock \\[${p}\\]: .*read of 0x400000 by user.*recorded access`)));
    }
    for (const p of ['zap', 'update', 'access']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`livelock-self-map\\.mmutrace:20:1: livelock \\[${p}\\]: .*write of 0x401000 by user.*unshadows it`)));
    }
    expect(l.err).not.toContain('expect failed');
  });

  it('counts livelocks and hangs in the JSON, and exits 1 on them', () => {
    const j = JSON.parse(run('run', ex('livelock-shared-table.mmutrace'), '--json', '--policy', 'zap').out);
    expect(j).toMatchObject({ livelocks: 1, hangs: 0, exits: { total: 5, pf: 5, fill: 5 } });
    // A pool of 2 pages: the first exit's reclaim finds only the root in use (a hang).
    const f = tmpFile('mode 64\nshadow-pages 2\nspace s\nmap 0x1000 = 0x5000 P W U A D\nread 0x1000\n');
    const r = run('run', f, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ livelocks: 0, hangs: 1 });
    expect(r.err).toMatch(new RegExp(`:5:1: hang: kvm_mmu_free_some_pages would loop forever: only roots in use are left`));
  });

  it('reports a failed expect with its place and both sides, exit 1', () => {
    const f = tmpFile('space s\nmap 0x1000 = 0x5000 P W U A D\nread 0x1000\nexpect last.exits == 2\n');
    const r = run('check', f);
    expect(r.code).toBe(1);
    // The expression starts at column 8 of line 4.
    expect(r.err).toContain(`${f}:4:8: expect failed: last.exits == 2`);
    expect(r.err).toMatch(/0x1/);
    expect(r.err).toMatch(/0x2/);
  });

  it('reports every diagnostic of an invalid file and exits 2', () => {
    const f = tmpFile('mode 64\nspace s\nraed 0x1000\nread 0x1000 bogus\n');
    const r = run('check', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:3:1: error:`);
    expect(r.err).toContain('read');
    expect(r.err).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: error:`));
  });
});

describe('--audit', () => {
  const flaws: [string, string[]][] = [
    ['flaw1-update-overgrant.mmutrace', ['update']],
    ['flaw2-shared-role.mmutrace', ['zap', 'update']],
    ['flaw3-nx-leaf-only.mmutrace', ['zap', 'update']],
    ['flaw4-aliased-large-pages.mmutrace', ['zap', 'update']],
  ];
  for (const [file, policies] of flaws) {
    for (const p of ['zap', 'update']) {
      const caught = policies.includes(p);
      it(`${file} under ${p}: ${caught ? 'the audit catches the flaw' : 'clean'}`, () => {
        const r = run('run', ex(file), '--audit', '--policy', p, '--json');
        const j = JSON.parse(r.out);
        expect(j.audit.violations).toBe(caught ? 1 : 0);
        // designs.md, "The audit names the flaw": the one violation counted under its flaw.
        expect(j.audit.byFlaw).toEqual(caught ? { [file[4]!]: 1 } : {});
        expect(r.code).toBe(caught ? 1 : 0);
        if (caught) {
          const n = Number(file[4]);
          expect(r.err).toContain(`known flaw ${n}`);
          expect(r.err).toContain('audit violation (check 3)');
        }
      });
    }
  }

  it('the Linux-like examples are clean under both policies', () => {
    for (const f of ['demand-fault', 'copy-on-write', 'fork-flood', 'context-switch', 'pae-half-write', 'mode32-quadrants', 'large-page']) {
      for (const p of ['zap', 'update']) {
        const r = run('run', ex(`${f}.mmutrace`), '--audit', '--policy', p, '--json');
        expect(JSON.parse(r.out).audit.violations, `${f} ${p}`).toBe(0);
      }
    }
  });
});

describe('bad input', () => {
  it('usage errors exit 2 and say what is wrong', () => {
    expect(run('frobnicate', 'x').code).toBe(2);
    expect(run('run').err).toContain('needs a file');
    expect(run('run', ex('demand-fault.mmutrace'), '--policy', 'nope').err).toContain('unknown policy `nope`');
    expect(run('run', ex('demand-fault.mmutrace'), '--bogus').err).toContain('unknown option `--bogus`');
    expect(run('run', ex('demand-fault.mmutrace'), '--policy').err).toContain('--policy needs a value');
  });

  it('a missing file or a directory is an error naming it', () => {
    const r = run('run', '/nonexistent/x.mmutrace');
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/x.mmutrace:1:1: error: cannot read: no such file');
    expect(run('run', root).code).toBe(2);
  });

  it('binary garbage is diagnosed, not crashed on', () => {
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    const r = run('check', tmpFile(bytes));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/:\d+:\d+: error: /);
  });

  it('a pte into a missing table is an error at its line', () => {
    const f = tmpFile('space s\nmap 0x1000 = 0x5000 P W U A D\npte 0x40000000 = 0x6000 P W U A D\n');
    const r = run('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${f}:3:1: error: there is no L2 table for 0x40000000`);
  });

  it('an unknown policy in the file is an error', () => {
    const r = run('run', tmpFile('policy frob\nspace s\nread 0x1000\n'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown policy `frob`');
  });
});

describe('the installed command', () => {
  it('bin/mmutrace.js runs compare and exits 0; exits 2 on a bad file without a stack trace', () => {
    const ok = spawnSync(process.execPath, [join(root, 'bin', 'mmutrace.js'), 'compare', ex('demand-fault.mmutrace')], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/from @fault\s+3\s+2/);
    const bad = spawnSync(process.execPath, [join(root, 'bin', 'mmutrace.js'), 'run', tmpFile('mode 99\n')], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/:1:\d+: error: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
