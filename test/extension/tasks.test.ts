// The `mmutrace` task type: the problem matcher `$mmutrace` of package.json,
// its regexp run on the real stderr of the built CLI (node dist/cli.js) for
// each kind of line cli.md and engine.md name; and the task definitions
// turned into CLI arguments (src/extension/tasks/args.ts).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TASK_LINGER_MS, TASK_WRAPPER, taskArgs, taskName } from '../../src/extension/tasks/args';

const ROOT = resolve(__dirname, '../..');
const CLI = resolve(ROOT, 'dist/cli.js');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
const pattern = pkg.contributes.problemPatterns.find((p: { name: string }) => p.name === 'mmutrace');
const matcher = pkg.contributes.problemMatchers.find((m: { name: string }) => m.name === 'mmutrace');
// VS Code compiles the pattern's regexp as a JavaScript RegExp, line by line.
const re = new RegExp(pattern.regexp);

interface Problem {
  file: string;
  line: number;
  column: number;
  message: string;
  /** What VS Code shows: the severity group, else the matcher's default. */
  severity: string;
  /** The policy (the marker's code: VS Code merges problems of one place with the same code, whatever their message). */
  code?: string;
}
function match(line: string): Problem | null {
  const m = re.exec(line);
  if (!m) return null;
  const p: Problem = { file: m[pattern.file]!, line: Number(m[pattern.line]), column: Number(m[pattern.column]), message: m[pattern.message]!, severity: m[pattern.severity] ?? matcher.severity };
  if (m[pattern.code] !== undefined) p.code = m[pattern.code];
  return p;
}

let dir: string;
function cli(args: string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}
const lines = (s: string): string[] => s.split('\n').filter(Boolean);

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync(process.execPath, ['build.mjs'], { cwd: ROOT });
  dir = mkdtempSync(join(tmpdir(), 'mmutrace-pm-'));
  writeFileSync(join(dir, 'expect-fail.mmutrace'), readFileSync(resolve(ROOT, 'test/debug/fixtures/expect-fail.mmutrace')));
  writeFileSync(join(dir, 'bad.mmutrace'), readFileSync(resolve(ROOT, 'test/debug/fixtures/bad.mmutrace')));
  for (const f of ['flaw2-shared-role.mmutrace', 'livelock-self-map.mmutrace']) writeFileSync(join(dir, f), readFileSync(resolve(ROOT, 'examples', f)));
  // A flag given twice is a warning (the file still runs).
  writeFileSync(join(dir, 'warn.mmutrace'), 'mode 64\nspace s\nmap 0x400000 = 0x200000 P P W U A D\nread 0x400000\nexpect last.exits == 1\n');
  // shadow-pages 6: the first read makes 4 shadow pages (root, L3, L2, L1), so the next exit reclaims with 2 free;
  // the oldest page is the root in use, emptied, and then only it is left: a hang (engine.md, "Reclaim").
  writeFileSync(join(dir, 'hang.mmutrace'), 'mode 64\nshadow-pages 6\nspace s\nmap 0x400000 = 0x200000 P W U A D\nmap 0x40000000 = 0x300000 P W U A D\nread 0x400000\nread 0x40000000\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the $mmutrace problem matcher on the CLI output', () => {
  test('package.json: $mmutrace uses the mmutrace pattern, errors by default, paths relative to the workspace folder', () => {
    expect(matcher.pattern).toBe('$mmutrace');
    expect(matcher.severity).toBe('error');
    expect(matcher.fileLocation).toEqual(['autoDetect', '${workspaceFolder}']);
  });

  test('expect failed, one line per policy with its label: every stderr line is a problem at 7:8', () => {
    const r = cli(['check', 'expect-fail.mmutrace', '--policy', 'all']);
    expect(r.status).toBe(1);
    const got = lines(r.stderr).map(match);
    expect(got).toHaveLength(4);
    for (const [i, p] of ['zap', 'update', 'access', 'tdp'].entries()) {
      // Four problems at one place: distinct only by their code, the policy.
      expect(got[i]).toMatchObject({ file: 'expect-fail.mmutrace', line: 7, column: 8, severity: 'error', code: p });
      expect(got[i]!.message).toMatch(new RegExp(`^expect failed \\[${p}\\]: last\\.exits == 2 — left 0x[15] \\(last\\.exits\\), right 0x2$`));
    }
  });

  test('without --policy all: no label', () => {
    const r = cli(['check', 'expect-fail.mmutrace']);
    expect(lines(r.stderr).map(match)).toEqual([{ file: 'expect-fail.mmutrace', line: 7, column: 8, severity: 'error', message: 'expect failed: last.exits == 2 — left 0x1 (last.exits), right 0x2' }]);
  });

  test('parse errors: each at its line and column', () => {
    const r = cli(['check', 'bad.mmutrace']);
    expect(r.status).toBe(2);
    const got = lines(r.stderr).map(match);
    expect(got.map((p) => p && [p.line, p.column, p.severity])).toEqual([
      [5, 1, 'error'],
      [6, 6, 'error'],
      [7, 1, 'error'],
    ]);
    expect(got[0]!.message).toBe('error: unknown keyword `raed` (did you mean `read`?)');
  });

  test('a warning is a warning; the expect that fails under tdp is an error', () => {
    const r = cli(['check', 'warn.mmutrace', '--policy', 'all']);
    const got = lines(r.stderr).map(match);
    expect(got[0]).toMatchObject({ line: 3, column: 27, severity: 'warning', message: 'warning: flag `P` given twice (remove the second one)' });
    expect(got.slice(1)).toEqual([{ file: 'warn.mmutrace', line: 5, column: 8, severity: 'error', code: 'tdp', message: 'expect failed [tdp]: last.exits == 1 — left 0x5 (last.exits), right 0x1' }]);
  });

  test('audit violations (with the check number), livelocks and hangs', () => {
    const audit = lines(cli(['check', 'flaw2-shared-role.mmutrace', '--policy', 'zap', '--audit']).stderr).map(match);
    expect(audit.length).toBeGreaterThan(0);
    for (const p of audit) expect(p).toMatchObject({ file: 'flaw2-shared-role.mmutrace', line: 20, column: 1, severity: 'error', message: expect.stringMatching(/^audit violation \(check 3\): .*known flaw 2/) });
    const live = lines(cli(['check', 'livelock-self-map.mmutrace', '--policy', 'all']).stderr).map(match);
    expect(live.map((p) => p && [p.line, p.code, p.message.slice(0, p.message.indexOf(':'))])).toEqual([
      [20, 'zap', 'livelock [zap]'],
      [20, 'update', 'livelock [update]'],
      [20, 'access', 'livelock [access]'],
    ]);
    const auditAll = lines(cli(['check', 'flaw2-shared-role.mmutrace', '--policy', 'all', '--audit']).stderr).map(match);
    expect(auditAll.every((p) => p && /^audit violation \[(zap|update|access|tdp)\] \(check \d+\): /.test(p.message) && p.message.includes(`[${p.code}]`))).toBe(true);
    const hang = lines(cli(['check', 'hang.mmutrace', '--policy', 'update']).stderr).map(match);
    expect(hang).toEqual([expect.objectContaining({ line: 7, column: 1, severity: 'error', message: expect.stringMatching(/^hang: kvm_mmu_free_some_pages would loop forever/) })]);
  });

  test('a file that cannot be read is a problem at 1:1; what is not a problem line does not match', () => {
    const r = cli(['check', 'nowhere.mmutrace']);
    expect(match(lines(r.stderr)[0]!)).toMatchObject({ file: 'nowhere.mmutrace', line: 1, column: 1, severity: 'error' });
    const ok = cli(['check', 'livelock-self-map.mmutrace', '--policy', 'tdp']);
    expect(lines(ok.stdout)).toEqual(['livelock-self-map.mmutrace: ok (tdp)']);
    for (const l of [...lines(ok.stdout), ...lines(cli(['check', '--nope']).stderr), ...lines(cli(['run', 'expect-fail.mmutrace']).stdout)]) expect(match(l), l).toBeNull();
  });
});

describe('what a task runs: node -e TASK_WRAPPER dist/cli.js ARGS', () => {
  test('the CLI with its arguments, output and exit status, then a pause before the exit (the problem matcher stops 100 ms after it)', () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['-e', TASK_WRAPPER, CLI, 'check', 'expect-fail.mmutrace', '--policy', 'all'], { cwd: dir, encoding: 'utf8' });
    const ms = performance.now() - t0;
    expect(r.status).toBe(1);
    expect(lines(r.stderr).map((l) => match(l)?.code)).toEqual(['zap', 'update', 'access', 'tdp']);
    expect(ms).toBeGreaterThanOrEqual(TASK_LINGER_MS);
    // The same wrapper for the other commands: run prints its summary, a usage error exits 2.
    const run = spawnSync(process.execPath, ['-e', TASK_WRAPPER, CLI, 'run', 'expect-fail.mmutrace', '--policy', 'zap', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(run.stdout)).toMatchObject({ policy: 'zap', expectations: { passed: 1, failed: 1 } });
    expect(spawnSync(process.execPath, ['-e', TASK_WRAPPER, CLI, 'run'], { cwd: dir, encoding: 'utf8' }).status).toBe(2);
  });
});

describe('task definitions to CLI arguments', () => {
  test('check, run, compare with their options', () => {
    expect(taskArgs({ type: 'mmutrace', command: 'check', file: 'a.mmutrace', files: ['b.mmutrace'], policy: 'all', audit: true })).toEqual({ args: ['check', '--policy', 'all', '--audit', 'a.mmutrace', 'b.mmutrace'] });
    expect(taskArgs({ type: 'mmutrace', command: 'run', file: '${file}', policy: 'zap', json: true })).toEqual({ args: ['run', '--policy', 'zap', '--json', '${file}'] });
    expect(taskArgs({ type: 'mmutrace', command: 'compare', file: 'x.mmutrace', policies: ['zap', 'update'] })).toEqual({ args: ['compare', '--policies', 'zap,update', 'x.mmutrace'] });
    expect(taskArgs({ type: 'mmutrace', command: 'run', file: '-odd.mmutrace' })).toEqual({ args: ['run', './-odd.mmutrace'] });
    expect(taskArgs({ type: 'mmutrace', command: 'record', program: ['ls', '-l'], out: 'ls.mmutrace', traceChildren: true })).toEqual({ args: ['record', '--out', 'ls.mmutrace', '--trace-children', '--', 'ls', '-l'] });
    expect(taskName({ command: 'check', file: 'a.mmutrace', policy: 'all' })).toBe('check a.mmutrace (all)');
  });

  test.each([
    [{ command: 'lint', file: 'a' }, '`command` must be check, run, compare or record'],
    [{ command: 'run' }, 'name the trace in `file`'],
    [{ command: 'run', file: 'a', files: ['b'] }, '`files` goes with check'],
    [{ command: 'run', file: 'a', policy: 'all' }, '`policy` must be one of zap, update, access, tdp'],
    [{ command: 'compare', file: 'a', policy: 'zap' }, 'compare takes `policies`'],
    [{ command: 'compare', file: 'a', policies: ['ept'] }, '`policies` must list some of'],
    [{ command: 'check', file: 'a', json: true }, 'check has no `json`'],
    [{ command: 'record', program: [] }, '`program` must list the program'],
    [{ command: 'record', program: ['ls'], maxEvents: 0 }, '`maxEvents` must be a whole number'],
    [{ command: 'run', file: 42 }, '`file` must be a path'],
  ])('refused with a message: %j', (def, message) => {
    const r = taskArgs(def as never);
    expect('error' in r && r.error).toContain(message);
  });

  test("package.json's task definition names the commands and options args.ts reads", () => {
    const def = pkg.contributes.taskDefinitions[0];
    expect(def.type).toBe('mmutrace');
    expect(def.required).toEqual(['command']);
    expect(def.properties.command.enum).toEqual(['check', 'run', 'compare', 'record']);
    expect(Object.keys(def.properties).sort()).toEqual(['audit', 'command', 'file', 'files', 'json', 'maxEvents', 'mode', 'out', 'policies', 'policy', 'program', 'traceChildren']);
    // Every definition that package.json's enums allow for check gives arguments the CLI accepts.
    for (const policy of def.properties.policy.enum) {
      const r = taskArgs({ type: 'mmutrace', command: 'check', file: 'expect-fail.mmutrace', policy });
      expect(r).toHaveProperty('args');
      expect(cli((r as { args: string[] }).args).status).not.toBe(2);
    }
  });
});
