// Large traces, generated here: paging through thousands of shadow pages,
// the throttled exit log, and a trace that loads in the background (progress
// events, a breakpoint that waits for its line to be parsed).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { bigTrace, manyPagesTrace } from './gen';
import { cont, launch, reverse, scopes, startClient, stepBack, topLine, vars, writeTemp, type Client } from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

describe('large traces', () => {
  test('thousands of shadow pages are paged; the exit log is throttled', async () => {
    const n = 3000;
    const file = writeTemp('many-pages.mmutrace', manyPagesTrace(n));
    const s = await launch(dc, { program: file, stopOnEntry: false });
    expect(s.reason).toBe('end');
    // One exit per read, but at most 200 logged, then one summary line.
    const exitLines = dc.outputs.filter((o) => o.category === 'stdout');
    expect(exitLines).toHaveLength(201);
    expect(exitLines[200]!.output).toBe(`… ${n - 200} more VM exits not logged (at most 200 are logged per run; set "logExits": false to log none)\n`);
    // Each read made an L1 shadow page; 6 L2 pages (1 GiB each) and one L3 above them, and the root.
    const pages = (await scopes(dc)).find((x) => x.name.startsWith('Shadow pages'))!;
    expect(pages.name).toBe(`Shadow pages (${n + 8})`);
    expect(pages.indexedVariables).toBe(n + 8);
    const t0 = performance.now();
    const chunk = await vars(dc, pages.variablesReference, { filter: 'indexed', start: 2500, count: 100 });
    const ms = performance.now() - t0;
    expect(chunk).toHaveLength(100);
    expect(ms).toBeLessThan(500);
    // Oldest first: the root #1, then the pages in allocation order.
    expect(chunk[0]!.name).toBe('#2501');
    expect(chunk[0]!.value).toMatch(/^gfn 0x[0-9a-f]+, level 1, 1 present, write-protected$/);
    const last = await vars(dc, pages.variablesReference, { filter: 'indexed', start: n + 7, count: 10 });
    expect(last).toHaveLength(1);
    // Back and forth over the end of the trace.
    await stepBack(dc);
    expect(await topLine(dc)).toBe(n + 5 + n - 1);
  });

  test('a trace that loads in the background: progress events, pending breakpoints', async () => {
    const events = 150_000;
    const file = writeTemp('big.mmutrace', bigTrace({ events, pages: 64, seed: 7 }));
    const lastLine = events + 11; // 11 setup lines (see gen.ts) before the events
    let placed: { verified: boolean; line?: number; message?: string; reason?: string }[] = [];
    const s = await launch(dc, { program: file }, async (c) => {
      placed = (await c.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: lastLine - 5 }, { line: 100 }] })).body.breakpoints;
    });
    expect(s.reason).toBe('entry');
    // The line near the end was not parsed yet at the first stop.
    expect(placed[0]!.verified).toBe(false);
    expect(placed[0]!.reason).toBe('pending');
    expect(placed[1]!.verified).toBe(true);
    // Continue: the breakpoint at line 100 first.
    expect((await cont(dc)).reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(100);
    // Then the one near the end, once the parse got there.
    const s2 = await cont(dc);
    expect(s2.reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(lastLine - 5);
    const kinds = dc.events.map((e) => e.event);
    expect(kinds).toContain('progressStart');
    expect(kinds).toContain('progressEnd');
    const changed = dc.events.filter((e) => e.event === 'breakpoint') as { body: { breakpoint: { verified: boolean; line: number } } }[];
    expect(changed.some((e) => e.body.breakpoint.verified && e.body.breakpoint.line === lastLine - 5)).toBe(true);
    // The other policy's counters are computed in the background: "computing…", then an invalidated event.
    const counters = async (): Promise<string> => {
      const sc = (await scopes(dc)).find((x) => x.name === 'Exit counters')!;
      return (await vars(dc, sc.variablesReference)).find((v) => v.name === 'total')!.value;
    };
    const invalidated = dc.waitForEvent('invalidated', 20_000);
    const first = await counters();
    if (first.includes('computing')) {
      await invalidated;
      expect(await counters()).toMatch(/^\d+ {2}\(zap: \d+, access: \d+, tdp: \d+\)$/);
    } else expect(first).toMatch(/^\d+ {2}\(zap: \d+, access: \d+, tdp: \d+\)$/);
    // Back to line 100 from there.
    expect((await reverse(dc)).reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(100);
  });
});
