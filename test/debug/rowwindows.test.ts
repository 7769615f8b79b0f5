// The debugger's rows of a trace file in windows (src/debug/rowwindows.ts,
// issue 13): windows of a few lines parsed again from the file give, for
// every row read in any order, what the whole text's table gives (expect rows
// pointing at the program's expects, a space argument kept aside, labels, lines in windows
// without rows); memory keeps a bounded number of windows; a file changed on
// disk is an error that says so; and a session over DAP on such windows (a
// window every 64 lines, against the command's replay of the same file)
// reaches the same counters forwards, backwards and at the end.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { FileSource } from '../../src/debug/filesource';
import { MAX_CACHED } from '../../src/debug/rowwindows';
import { TextSource, type TraceSource } from '../../src/debug/source';
import { readChunksSync } from '../../src/io/read';
import { Op, type Rows } from '../../src/trace';
import { bigTrace } from './gen';
import type { MmuMap } from '../../src/debug/mmumap';
import { ROOT, cont, evaluate, launch, raw, reverse, scopeVars, startClient, stepBack, topLine, writeTemp, type Client } from './helpers';

/**
 * bigTrace with, every 97 lines after the setup, an `expect` (so that windows
 * have expects of their own), a label every 1,000 lines, a run of comment
 * lines longer than a window (windows without rows), a `cr3` to a named
 * space (an argument the table keeps aside), a kernel-half access, a CRLF
 * line and a multi-byte comment.
 */
function windowsTrace(events: number): string {
  const lines = bigTrace({ events, seed: 21 }).split('\n');
  const first = lines.findIndex((l) => /^(read|write) /.test(l));
  const setup = lines.slice(0, first);
  setup.push('space k', 'map 0xffff800000000000..0xffff800000004000 = 0x9000000 P W');
  const out = [...setup];
  let label = 0;
  lines.slice(first).forEach((l, i) => {
    if (l === '') return;
    if (i % 1000 === 500 && /^(read|write) /.test(l) && !l.includes('@')) out.push(`${l} @mark${label++}`);
    else out.push(l);
    if (i % 97 === 96) out.push(`expect exits.total >= 0 && line == ${out.length}`);
    if (i === 3000) out.push(...Array.from({ length: 150 }, (_, k) => `# a comment block, line ${k} — café`));
    if (i === 4000) out.push('cr3 k', 'read 0xffff800000001008', 'write 0xffff800000002010 = 0x5\r', 'cr3 s0');
  });
  return `${out.join('\n')}\n`;
}

function open(file: string, every: number): FileSource {
  const chunks = readChunksSync(file);
  return new FileSource(file, Buffer.byteLength(require('node:fs').readFileSync(file)), chunks, every);
}

function drain(s: TraceSource): void {
  while (!s.done && !s.hasErrors) s.parseMore(5000);
  if (s.done) s.finish();
}

function rowText(t: Rows, r: number): string {
  return `${t.opOf(r)} ${t.lineOf(r)} ${t.addrOf(r)} ${t.argOf(r)} ${t.eventAddr(r)} ${t.sizeOf(r)} ${t.levelOf(r)} ${t.offsetOf(r)} ${t.flagsOf(r)} ${t.loOf(r)} ${t.hiOf(r)} ${t.value(r)}`;
}

describe('rows in windows over a file', () => {
  const text = windowsTrace(12_000);
  const file = writeTemp('windows.mmutrace', text);

  test('every row, read in any order, is the whole text\'s row; expects, labels and lines agree', () => {
    const whole = new TextSource(text);
    drain(whole);
    const f = open(file, 100);
    drain(f);
    expect(f.hasErrors).toBe(false);
    const a = f.program.events;
    const b = whole.program.events;
    expect(a.count).toBe(b.count);
    expect(f.rows.windows).toBeGreaterThan(100);
    expect(f.program.expects.map((e) => e.line)).toEqual(whole.program.expects.map((e) => e.line));
    expect(f.program.expects.length).toBeGreaterThan(100);
    expect([...f.program.labels]).toEqual([...whole.program.labels]);
    // `cr3 k` (a space: the table keeps its argument aside, as -(space + 1)) and the kernel-half read after it.
    const k = f.program.spaces.findIndex((sp) => sp.name === 'k');
    const cr3k = [...Array(b.count).keys()].find((r) => b.opOf(r) === Op.Cr3 && b.argOf(r) === k);
    expect(cr3k).toBeDefined();
    expect(a.argOf(cr3k!)).toBe(k);
    expect(a.addrOf(cr3k! + 1)).toBe(0x800000001008);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: b.count - 1 }), { minLength: 1, maxLength: 400 }), (rows) => {
        for (const r of rows) expect(rowText(a, r)).toBe(rowText(b, r));
        // An expect row points at the program's expect of its own line.
        for (const r of rows) if (a.opOf(r) === Op.Expect) expect(f.program.expects[a.argOf(r)]!.line).toBe(a.lineOf(r));
      }),
      { numRuns: 60 },
    );
    // Every line, those of the comment block (windows without rows) too.
    for (let line = 1; line <= f.program.lineCount + 1; line += 7) expect(a.rowAtOrAfterLine(line)).toBe(b.rowAtOrAfterLine(line));
    for (let line = 3150; line <= 3400; line++) expect(a.rowAtOrAfterLine(line)).toBe(b.rowAtOrAfterLine(line));
  });

  test('reading every row keeps at most MAX_CACHED windows besides the tail', () => {
    const f = open(file, 100);
    drain(f);
    const t = f.program.events;
    let n = 0;
    for (let r = 0; r < t.count; r++) n += t.opOf(r);
    expect(n).toBeGreaterThan(0);
    expect(f.rows.rereads).toBeGreaterThan(MAX_CACHED);
    expect(f.rows.cachedWindows).toBe(MAX_CACHED);
    // Read again backwards: windows come back (parsed again), the count stays bounded.
    for (let r = t.count - 1; r >= 0; r -= 50) t.lineOf(r);
    expect(f.rows.cachedWindows).toBe(MAX_CACHED);
  });

  test('a file changed on disk while it is debugged: the row read fails with an error that says so', () => {
    const changed = writeTemp('windows-changed.mmutrace', text);
    const f = open(changed, 100);
    drain(f);
    // A line added at the top moves every line down by one.
    writeFileSync(changed, `# a new first line\n${text}`);
    expect(() => f.program.events.lineOf(0)).toThrow(/changed on disk while it was being debugged/);
  });
});

describe('a session over windows of 64 lines', () => {
  let dc: Client | null = null;
  afterEach(async () => {
    delete process.env.MMUTRACE_INDEX_EVERY;
    delete process.env.MMUTRACE_TIMELINE_EXACT_MAX;
    if (dc) await dc.stop().catch(() => undefined);
    dc = null;
  });

  test('continue to the end, back to an early breakpoint, stepBack: the counters of a replay of the whole file', async () => {
    const text = windowsTrace(6_000);
    const file = writeTemp('windows-dap.mmutrace', text);
    // The command's replay of the file (streamed in batches, no windows): the counters at the end.
    const json = JSON.parse(execFileSync('node', [join(ROOT, 'dist/cli.js'), 'run', file, '--json', '--audit'], { encoding: 'utf8' })) as { exits: { total: number }; expectations: { passed: number; failed: number }; events: number };
    expect(json.expectations.failed).toBe(0);
    process.env.MMUTRACE_INDEX_EVERY = '64';
    const c = await startClient();
    dc = c;
    const lines = text.split('\n');
    const early = lines.findIndex((l) => l.includes('@mark1')) + 1;
    await launch(c, { program: file, audit: true }, () => c.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: early }] }));
    // Forwards to the early breakpoint: its counters, as a replay from the start makes them.
    expect((await cont(c)).reason).toBe('breakpoint');
    expect(await topLine(c)).toBe(early);
    const atEarly = await evaluate(c, 'exits.total', false);
    // On to the end (windows far behind are dropped), then back to the breakpoint: they are read again.
    await c.setBreakpointsRequest({ source: { path: file }, breakpoints: [] });
    expect((await cont(c)).reason).toBe('end');
    expect(Number(await evaluate(c, 'exits.total', false))).toBe(json.exits.total);
    expect((await scopeVars(c, 'Exit counters')).get('expectations')?.value).toBe(`${json.expectations.passed} passed, 0 failed`);
    await c.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: early }] });
    expect((await reverse(c)).reason).toBe('breakpoint');
    expect(await topLine(c)).toBe(early);
    expect(await evaluate(c, 'exits.total', false)).toBe(atEarly);
    // One step back: the event before it, whose line is the previous event line.
    await stepBack(c);
    let prev = early - 1;
    while (!/^(read|write|exec|pte|store|cr3|invlpg)\b/.test(lines[prev - 1]!)) prev--;
    expect(await topLine(c)).toBe(prev);
  }, 120_000);

  test('the MMU map\'s timeline in whole blocks of rows: every event once, the counts of each policy\'s replay of the whole file', async () => {
    const text = windowsTrace(20_000);
    const file = writeTemp('windows-timeline.mmutrace', text);
    const cmp = JSON.parse(execFileSync('node', [join(ROOT, 'dist/cli.js'), 'compare', file, '--json'], { encoding: 'utf8' })) as { policies: Record<string, { events: number; exits: { total: number; fill: number; inject: number; emulate: number; cr3: number; npt: number } }> };
    process.env.MMUTRACE_INDEX_EVERY = '64';
    // Past 1,000 events the timeline lets the list of events go and cuts whole blocks.
    process.env.MMUTRACE_TIMELINE_EXACT_MAX = '1000';
    const c = await startClient();
    dc = c;
    await launch(c, { program: file, policy: 'update' });
    // The trackers replay 40 ms per request: ask until every policy is done.
    let m: MmuMap | null = null;
    for (let i = 0; i < 200; i++) {
      const r = await raw(c, 'mmuMap', { buckets: 3 });
      expect(r.success).toBe(true);
      m = r.body as MmuMap;
      if (m.timeline!.complete) break;
    }
    const tl = m!.timeline!;
    expect(tl.complete).toBe(true);
    const events = cmp.policies.update!.events;
    expect(tl.events).toBe(events);
    // The rows: the lines from the first event on that are not blank or comments (events and expects).
    const lines = text.split('\n');
    const start = lines.findIndex((l) => /^(read|write) /.test(l));
    const rowLines = lines.slice(start).filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const isEvent = (l: string): boolean => /^(read|write|exec|pte|store|cr3|invlpg) /.test(l);
    const eventAtOrAfter = (r: number): number => {
      while (!isEvent(rowLines[r]!)) r++;
      return r;
    };
    // 20,000 events and their expects make 5 blocks of 4,096 rows: 3 buckets of blocks [0, 1), [1, 3), [3, 5).
    expect(Math.ceil(rowLines.length / 4096)).toBe(5);
    expect(tl.buckets.map((b) => b.row)).toEqual([0, 4096, 3 * 4096].map(eventAtOrAfter));
    expect(tl.buckets.reduce((a, b) => a + b.events, 0)).toBe(events);
    // Each bucket's row is an event on its line (a goto target).
    for (const b of tl.buckets) expect(lines[b.line - 1]).toMatch(/^(read|write|exec|pte|store|cr3|invlpg) /);
    // The last bucket ends at the end: each policy's total; the session's policy by kind, summed over the buckets.
    expect(tl.buckets[2]!.exits).toEqual(tl.policies.map((p) => cmp.policies[p]!.exits.total));
    for (const k of ['fill', 'inject', 'emulate', 'cr3', 'npt'] as const) expect(tl.buckets.reduce((a, b) => a + b.counts[k], 0)).toBe(cmp.policies.update!.exits[k]);
    // Each bucket's most notable exit (inject, then emulate, fill, npt, cr3) among those it counts.
    for (const b of tl.buckets) expect(b.outcome).toBe((['inject', 'emulate', 'fill', 'npt', 'cr3'] as const).find((k) => b.counts[k] > 0) ?? 'none');
  }, 120_000);

  test('the file changed on disk under the session: a goto that reads its rows again ends the session with a message that says so', async () => {
    // More windows than are kept (48), so that the early ones are read again.
    const text = windowsTrace(10_000);
    const file = writeTemp('windows-changed-dap.mmutrace', text);
    process.env.MMUTRACE_INDEX_EVERY = '64';
    const c = await startClient();
    dc = c;
    await launch(c, { program: file });
    const last = text.split('\n').length - 1;
    // Parsed to its end (a goto target there parses up to it), then the file changes.
    const targets = (await c.gotoTargetsRequest({ source: { path: file }, line: last })).body.targets;
    writeFileSync(file, `# a new first line\n${text}`);
    const terminated = c.waitForEvent('terminated');
    await c.gotoRequest({ threadId: 1, targetId: targets[0]!.id });
    await terminated;
    const err = c.outputs.filter((o) => o.category === 'stderr').map((o) => o.output).join('');
    expect(err).toMatch(/windows-changed-dap\.mmutrace: lines \d+-\d+ of the trace no longer parse to the rows they gave .*the file changed on disk while it was being debugged; restart the session/);
    expect(err).not.toMatch(/internal error/);
  }, 60_000);

  test('a run keeps the parse close ahead of it, and still stops at a breakpoint that was pending when it started', async () => {
    const text = windowsTrace(40_000);
    const file = writeTemp('windows-pending.mmutrace', text);
    const lines = text.split('\n');
    const bpLine = lines.findIndex((l, i) => i > 30_000 && /^read /.test(l)) + 1;
    // Windows of 64 lines: the parse goes at most 32 windows (2,048 lines) ahead of a run.
    process.env.MMUTRACE_INDEX_EVERY = '64';
    const c = await startClient();
    dc = c;
    let bp: { verified: boolean; message?: string } | undefined;
    await launch(c, { program: file }, async () => {
      bp = (await c.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: bpLine }] })).body.breakpoints[0];
    });
    // Set before the parse got there: pending.
    expect(bp?.verified).toBe(false);
    expect(bp?.message).toBe('the trace is still loading');
    const stop = await cont(c);
    expect(stop.reason).toBe('breakpoint');
    expect(await topLine(c)).toBe(bpLine);
  }, 120_000);
});
