// The command streams (issue 13): the replay of a trace fed in chunks of any
// size gives what the replay of the whole parsed text gives; the parse in a
// worker thread and in the command's own thread print the same; `.gz` and
// stdin print what the plain file prints; an error late in a file stops the
// replay and is reported at its FILE:LINE:COL; inputs that are no trace and
// never end (`/dev/zero`, `/dev/urandom` through a pipe) stop at once; a
// trace without end (`yes 'read 0x1000'`) is replayed in constant memory.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { StreamReplay } from '../../src/cli/replay';
import { Machine, POLICY_NAMES } from '../../src/engine';
import { parseTrace } from '../../src/trace';
import { TraceStream } from '../../src/trace/stream';
import { buildTrace, planArb } from '../engine/gen';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mmutrace.js');
const ex = (name: string): string => join(root, 'examples', name);
const dir = mkdtempSync(join(tmpdir(), 'mmutrace-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmpFile(text: string | Buffer, ext = '.mmutrace'): string {
  const f = join(dir, `t${n++}${ext}`);
  writeFileSync(f, text);
  return f;
}

interface Proc {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The built command in a process of its own; `worker` picks the parse's thread. */
function cli(args: string[], opts: { worker?: 'never' | 'always'; input?: Buffer | string; env?: Record<string, string> } = {}): Proc {
  const env = { ...process.env, MMUTRACE_PARSE_WORKER: opts.worker ?? 'never', ...opts.env };
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, input: opts.input, timeout: 60_000, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the replay of the whole parsed text finds, with lines, as the command prints it. */
function wholeReplay(text: string, policy: string, audit: boolean): unknown {
  const r = parseTrace(text);
  const m = new Machine(r.program, { policy, audit });
  m.run();
  const t = r.program.events;
  return {
    summary: m.summary('f'),
    failures: m.failures.map((f) => [f.line, f.col, f.message]),
    incidents: m.incidents.map((i) => [i.kind, t.lineOf(i.event), i.message]),
    violations: (m.auditor?.violations ?? []).map((v) => [v.check, t.lineOf(v.event), v.message]),
    error: m.error === null ? null : [t.lineOf(m.row), m.error],
  };
}

/** The same through the streaming parser fed `cuts`, every policy's machine fed the same batches. */
function streamedReplay(text: string, policies: string[], audit: boolean, cuts: number[], window: number): unknown[] {
  const bytes = Buffer.from(text, 'utf8');
  const s = new TraceStream({ window });
  const replay = new StreamReplay(() => policies, audit);
  const pump = (): void => {
    const b = s.take();
    if (s.setupReady) replay.begin(s.setup, s.hasErrors);
    if (b) replay.batch(b, s.errorLine);
  };
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    const end = Math.min(Math.max(c, at), bytes.length);
    s.push(bytes.subarray(at, end));
    pump();
    at = end;
  }
  s.end();
  pump();
  return replay.runs.map((r) => {
    const m = r.machine;
    return {
      summary: m.summary('f'),
      failures: m.failures.map((f) => [f.line, f.col, f.message]),
      incidents: m.incidents.map((i) => [i.kind, i.line, i.message]),
      violations: (m.auditor?.violations ?? []).map((v) => [v.check, v.line, v.message]),
      error: r.error ? [r.error.line, r.error.message] : null,
    };
  });
}

describe('any chunking gives the replay of the whole text (property)', () => {
  it('generated traces, every policy from the same batches, with the audit', () => {
    fc.assert(
      fc.property(
        planArb({ maxEvents: 60 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 1, max: 400 }),
        (plan, linux, cutsRaw, window) => {
          const text = buildTrace(plan, { linux: linux && plan.setup[0]! % 4 === 0 }) + 'expect exits.total >= 0\nexpect line == 0\n';
          const len = Buffer.byteLength(text);
          const cuts = cutsRaw.map((c) => c % (len + 1)).sort((a, b) => a - b);
          const policies = [...POLICY_NAMES];
          const got = streamedReplay(text, policies, true, cuts, window);
          expect(got).toEqual(policies.map((p) => wholeReplay(text, p, true)));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('rows handed twice are replayed once (the worker feed: this thread starts, the worker goes on)', () => {
  it('a first stream stopped anywhere, then a second from the start: the replay of one stream (property)', () => {
    fc.assert(
      fc.property(planArb({ maxEvents: 60 }), fc.nat(), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (plan, stopRaw, w1, w2) => {
        const text = buildTrace(plan, { linux: false }) + 'expect exits.total >= 0\nexpect line == 0\n';
        const bytes = Buffer.from(text);
        const replay = new StreamReplay(() => ['update', 'tdp'], true);
        const feed = (s: TraceStream, upTo: number): void => {
          for (let at = 0; at < upTo; at += 50) {
            s.push(bytes.subarray(at, Math.min(at + 50, upTo)));
            const b = s.take();
            if (s.setupReady) replay.begin(s.setup, s.hasErrors);
            if (b) replay.batch(b, s.errorLine);
          }
        };
        feed(new TraceStream({ window: w1 }), stopRaw % (bytes.length + 1));
        const second = new TraceStream({ window: w2 });
        feed(second, bytes.length);
        second.end();
        const b = second.take();
        if (second.setupReady) replay.begin(second.setup, second.hasErrors);
        if (b) replay.batch(b, second.errorLine);
        const got = replay.runs.map((r) => ({
          summary: r.machine.summary('f'),
          failures: r.machine.failures.map((f) => [f.line, f.col, f.message]),
          incidents: r.machine.incidents.map((i) => [i.kind, i.line, i.message]),
          violations: (r.machine.auditor?.violations ?? []).map((v) => [v.check, v.line, v.message]),
          error: r.error ? [r.error.line, r.error.message] : null,
        }));
        expect(got).toEqual(['update', 'tdp'].map((p) => wholeReplay(text, p, true)));
      }),
      { numRuns: 60 },
    );
  });
});

const examples = ['demand-fault.mmutrace', 'copy-on-write.mmutrace', 'livelock-self-map.mmutrace', 'flaw1-update-overgrant.mmutrace', 'reclaim-root-in-use.mmutrace'];

describe('the worker thread and this thread print the same', () => {
  const cases: string[][] = [
    ...examples.map((e) => ['run', ex(e)]),
    ['run', ex('flaw1-update-overgrant.mmutrace'), '--audit', '--json'],
    ['compare', ex('copy-on-write.mmutrace'), '--audit'],
    ['check', ex('demand-fault.mmutrace'), ex('livelock-self-map.mmutrace'), '--policy', 'all'],
  ];
  it.each(cases.map((c) => [c.join(' ').replace(root, ''), c]))('%s', (_name, args) => {
    const a = cli(args as string[], { worker: 'never' });
    const b = cli(args as string[], { worker: 'always' });
    expect(b).toEqual(a);
    expect(a.status).not.toBeNull();
  });

  it('on a trace of many batches with an error late in it and expect failures before', () => {
    const lines = ['space a', 'map 0x400000 = 0x200000 P W U'];
    for (let i = 0; i < 200_000; i++) lines.push(i % 1000 === 0 ? 'expect exits.total == 12345' : `read 0x${(0x400000 + (i % 1) * 0x1000).toString(16)}`);
    lines.push('read 0xzz');
    lines.push('read 0x400000');
    const f = tmpFile(lines.join('\n') + '\n');
    const a = cli(['run', f], { worker: 'never' });
    const b = cli(['run', f], { worker: 'always' });
    expect(b).toEqual(a);
    // The error's line: 2 setup lines and 200,000 events before it. Nothing but the diagnostic
    // (as before streaming: the expect failures before it are not printed), no summary, exit 2.
    expect(a.stderr).toBe(`${f}:200003:6: error: \`0xzz\` is not a number: \`z\` is not a hex digit\n`);
    expect(a.stdout).toBe('');
    expect(a.status).toBe(2);
  });
});

describe('a parse worker that dies without a word', () => {
  // As a thread that runs out of memory: it posts nothing more and this thread, waiting
  // synchronously, never sees its exit event. MMUTRACE_TEST_WORKER_EXIT_AFTER=2 ends it at
  // its second 1 MiB chunk, after it has posted rows; MMUTRACE_WORKER_SILENT_MS=500 is how
  // long its silence is waited for. Before the fix the command waited forever (the spawn's
  // 60 s timeout, status null).
  const lines = ['space a', 'map 0x400000..0x500000 = 0x200000 P W U A D'];
  for (let i = 0; i < 250_000; i++) lines.push(`read 0x${(0x400000 + (i % 256) * 0x1000).toString(16)}`);
  const text = lines.join('\n') + '\n'; // about 3.7 MB: four chunks
  const env = { MMUTRACE_TEST_WORKER_EXIT_AFTER: '2', MMUTRACE_WORKER_SILENT_MS: '500' };

  it('a file is read again in this thread: the same output as without the worker', () => {
    const f = tmpFile(text);
    const want = cli(['run', f, '--json'], { worker: 'never' });
    const got = cli(['run', f, '--json'], { worker: 'always', env });
    expect(got).toEqual(want);
    expect(got.status).toBe(0);
    // 250,000 read lines, each an event (cli.md: `events` counts event lines replayed).
    expect(JSON.parse(got.stdout).events).toBe(250_000);
  });

  it('a .gz file cannot be read again here: one line naming the file, exit 2', () => {
    const gz = tmpFile(gzipSync(Buffer.from(text)), '.mmutrace.gz');
    const r = cli(['run', gz], { worker: 'always', env });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${gz}:1:1: error: cannot read: the parse worker stopped without a word (nothing for 500 ms)\n`);
  });
});

describe('.gz and stdin print what the plain file prints', () => {
  for (const e of examples) {
    it(e, () => {
      const text = readFileSync(ex(e));
      const plain = tmpFile(text);
      const gz = tmpFile(gzipSync(text), '.mmutrace.gz');
      for (const worker of ['never', 'always'] as const) {
        const want = cli(['run', plain, '--audit'], { worker });
        expect(cli(['run', gz, '--audit'], { worker })).toEqual({ ...want, stdout: want.stdout.replaceAll(plain, gz), stderr: want.stderr.replaceAll(plain, gz) });
        expect(cli(['run', '-', '--audit'], { worker, input: text })).toEqual({ ...want, stdout: want.stdout.replaceAll(plain, '<stdin>'), stderr: want.stderr.replaceAll(plain, '<stdin>') });
      }
    });
  }

  it('a .gz file that is not gzip, or is cut short, is a read error of the file', () => {
    const bad = tmpFile('read 0x1000\n', '.gz');
    const cut = tmpFile(gzipSync(Buffer.from('read 0x1000\n'.repeat(1000))).subarray(0, 40), '.gz');
    for (const worker of ['never', 'always'] as const) {
      const r = cli(['run', bad], { worker });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.]/g, '\\.')}:1:1: error: cannot read: incorrect header check\n$`));
      const c = cli(['run', cut], { worker });
      expect(c.status).toBe(2);
      expect(c.stderr).toMatch(/:1:1: error: cannot read: unexpected end of file\n$/);
    }
  });
});

/** Runs a shell pipeline into the built command; its peak resident memory (kB) comes from the wrapper. */
function piped(producer: string, args: string, worker: 'never' | 'always', timeout = 60_000): Proc & { rssKb: number; ms: number } {
  const wrapper = `process.on('exit',()=>process.stderr.write('\\nmaxrss '+process.resourceUsage().maxRSS+'\\n'));process.argv.splice(1,0,'mmutrace');require(${JSON.stringify(bin)})`;
  const t0 = Date.now();
  const r = spawnSync('bash', ['-c', `${producer} | "${process.execPath}" -e "$W" ${args}`], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, W: wrapper, MMUTRACE_PARSE_WORKER: worker },
    maxBuffer: 64 << 20,
  });
  const m = /\nmaxrss (\d+)\n$/.exec(r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: m ? r.stderr.slice(0, m.index) : r.stderr, rssKb: m ? Number(m[1]) : NaN, ms: Date.now() - t0 };
}

describe('inputs without end (issue 17 item 1, now that the command has no size cap)', () => {
  for (const worker of ['never', 'always'] as const) {
    it(`/dev/zero through a pipe stops at once: a line of NULs over 16 Mi characters (${worker})`, () => {
      const r = piped('cat /dev/zero', 'run -', worker);
      expect(r.status).toBe(2);
      // Line 1 never ends; reading stops once it passes 16,777,216 characters.
      expect(r.stderr).toBe('<stdin>:1:1: error: line 1 is longer than 16777216 characters: reading stopped there (this is not a trace)\n');
      expect(r.stdout).toBe('');
    });

    it(`/dev/urandom through a pipe stops at once: not UTF-8, past the cap of diagnostics (${worker})`, () => {
      const r = piped('cat /dev/urandom', 'run -', worker);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      // The bad byte first (as the whole-file reader put it), the 1000 diagnostics of the cap, then the stop, at the bad byte.
      expect(lines[0]).toMatch(/^<stdin>:\d+:\d+: error: the file is not valid UTF-8: byte 0x[0-9a-f]{2} \(save it as UTF-8\)$/);
      expect(lines).toHaveLength(1002);
      const at = /^<stdin>:(\d+:\d+):/.exec(lines[0]!)![1];
      expect(lines[1001]).toBe(`<stdin>:${at}: error: the file is not UTF-8 text and has more problems than are shown: reading stopped`);
    });
  }

  it('`yes "read 0x1000"` through a pipe: 6M lines replayed with a peak under 300 MB, both threads', () => {
    for (const worker of ['never', 'always'] as const) {
      const big = piped(`yes "read 0x1000" | head -n 6000000`, 'run -', worker, 120_000);
      expect(big.status).toBe(0);
      expect(big.stdout).toContain('<stdin>: 6000000 events');
      // 72 MB of text (144 MB as one string, as the whole-file reader held it, before its table and state).
      expect(big.rssKb).toBeLessThan(300_000);
    }
  }, 180_000);

  it('what the stream and the replay hold does not grow with the trace (in-process, after collection)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = new TraceStream();
    const replay = new StreamReplay(() => ['update'], false);
    const chunk = Buffer.from('read 0x1000\nwrite 0x2000 = 5\n'.repeat(30_000));
    const held: number[] = [];
    for (let i = 1; i <= 30; i++) {
      s.push(chunk);
      const b = s.take();
      if (s.setupReady) replay.begin(s.setup, s.hasErrors);
      if (b) replay.batch(b, s.errorLine);
      if (i === 5 || i === 30) {
        gc();
        held.push(process.memoryUsage().heapUsed);
      }
    }
    expect(replay.runs[0]!.machine.events).toBe(1_800_000);
    // 1.5M more events: what is held after collection grows by less than 2 MB (the table is reused, rows are dropped).
    expect(held[1]! - held[0]!).toBeLessThan(2 << 20);
  });

  it('a regular file past the old 500 MiB cap is read, not refused (a sparse file of NULs: it stops at its first 16 Mi characters)', () => {
    const f = join(dir, `sparse${n++}.mmutrace`);
    writeFileSync(f, '');
    truncateSync(f, 600 * 1024 * 1024);
    for (const worker of ['never', 'always'] as const) {
      const r = cli(['run', f], { worker });
      expect(r.stderr).toBe(`${f}:1:1: error: line 1 is longer than 16777216 characters: reading stopped there (this is not a trace)\n`);
      expect(r.status).toBe(2);
    }
  });

  it('the byte cap of the whole-file reader no longer applies to the command: a pipe past 3 MiB is read whole', () => {
    // The debugger's reader still stops at its cap (hostile.test.ts); the command streams.
    const r = piped(`yes "read 0x1000" | head -c 4194304`, 'run -', 'never');
    // 4 MiB of 12-byte lines: 349,525 whole lines and a last one cut to `read` (4194304 - 349525 * 12 = 4 bytes);
    // "expected an address" with no token after `read` is reported on its last token, `read` itself.
    expect(r.stderr).toBe('<stdin>:349526:1: error: expected an address after `read`\n');
    expect(r.status).toBe(2);
  });
});

describe('a trace cut into batches stops its replay at the first parse error', () => {
  it('rows before the error are replayed, none after (in-process)', () => {
    const text = 'space a\nmap 0x1000 = 0x2000 P W U\n' + 'read 0x1000\n'.repeat(50) + 'bogus\n' + 'read 0x1000\n'.repeat(50);
    const s = new TraceStream({ window: 64 });
    const replay = new StreamReplay(() => ['update'], false);
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += 37) {
      s.push(bytes.subarray(i, i + 37));
      const b = s.take();
      if (s.setupReady) replay.begin(s.setup, s.hasErrors);
      if (b) replay.batch(b, s.errorLine);
    }
    s.end();
    // `bogus` is line 53: the 50 reads of lines 3..52 ran, none of the 50 after.
    expect(s.errorLine).toBe(53);
    expect(replay.runs[0]!.machine.events).toBe(50);
  });
});
