// Line, function and data breakpoints: placement, conditions, hit counts and
// log points, forwards and backwards.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DEMAND, cont, evaluate, fixture, frames, launch, lineOf, next, reverse, scopes, startClient, stepBack, topLine, vars, type Client } from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

const src = { path: DEMAND };

describe('line breakpoints', () => {
  test('on event lines; comment, setup and expect lines move to the next event', async () => {
    let placed: { line?: number; verified: boolean; message?: string }[] = [];
    await launch(dc, { program: DEMAND }, async (c) => {
      const r = await c.setBreakpointsRequest({ source: src, breakpoints: [{ line: 1 }, { line: 9 }, { line: 14 }, { line: 19 }, { line: 40 }] });
      placed = r.body.breakpoints;
    });
    expect(placed.map((b) => [b.line, b.verified])).toEqual([
      [13, true],
      [13, true],
      [15, true],
      [19, true],
      [40, false],
    ]);
    expect(placed[0]!.message).toBe('line 1 is not an event: moved to the next event, line 13');
    expect(placed[3]!.message).toBeUndefined();
    expect(placed[4]!.message).toBe('no event at or after line 40');
    // Entry stop on 13 (the breakpoint there does not fire twice); continue: 15, then 19.
    let s = await cont(dc);
    expect(s.reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(15);
    expect(s.hitBreakpointIds).toHaveLength(1);
    s = await cont(dc);
    expect(await topLine(dc)).toBe(19);
    s = await cont(dc);
    expect(s.reason).toBe('end');
    // Backwards: 19, 15, 13.
    for (const line of [19, 15, 13]) {
      s = await reverse(dc);
      expect(s.reason).toBe('breakpoint');
      expect(await topLine(dc)).toBe(line);
    }
    // A breakpoint in another file is not verified.
    const other = await dc.setBreakpointsRequest({ source: { path: fixture('filters.mmutrace') }, breakpoints: [{ line: 3 }] });
    expect(other.body.breakpoints[0]!.verified).toBe(false);
  });

  test('stopOnEntry false stops on a breakpoint on the first event', async () => {
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, (c) => c.setBreakpointsRequest({ source: src, breakpoints: [{ line: 13 }] }));
    expect(s.reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(13);
  });

  test('conditions in the expression language', async () => {
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, (c) =>
      c.setBreakpointsRequest({
        source: src,
        breakpoints: [
          { line: 15, condition: 'exits.total == 99' },
          { line: 17, condition: 'last.fault == 0x4 && gpte(0x400000) == 0' },
          { line: 19, condition: 'spte(0x400000) & W' },
        ],
      }),
    );
    expect(s.reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(17);
    expect((await cont(dc)).reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(19);
    expect((await cont(dc)).reason).toBe('end');
  });

  test('a condition that does not parse leaves the breakpoint unverified; one that fails to evaluate stops and says so', async () => {
    let placed: { verified: boolean; message?: string }[] = [];
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, async (c) => {
      placed = (await c.setBreakpointsRequest({ source: src, breakpoints: [{ line: 15, condition: 'exits.total ==' }, { line: 17, condition: 'gpte(1 << 60) == 0' }] })).body.breakpoints;
    });
    expect(placed[0]!.verified).toBe(false);
    expect(placed[0]!.message).toMatch(/^condition: /);
    expect(placed[1]!.verified).toBe(true);
    expect(await topLine(dc)).toBe(17);
    expect(s.description).toMatch(/condition error: gpte: address 0x1000000000000000 is out of range/);
  });

  test('hit counts: counted each time the breakpoint is reached, forwards or backwards', async () => {
    let placed: { verified: boolean; message?: string }[] = [];
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, async (c) => {
      placed = (await c.setBreakpointsRequest({ source: src, breakpoints: [{ line: 19, hitCondition: '2' }, { line: 15, hitCondition: 'hits >' }] })).body.breakpoints;
    });
    expect(placed[1]!.verified).toBe(false);
    // Hit 1 going forwards does not stop (2 means: from the 2nd hit on).
    expect(s.reason).toBe('end');
    // Going back over line 19 is hit 2.
    expect((await reverse(dc)).reason).toBe('breakpoint');
    expect(await topLine(dc)).toBe(19);
  });

  test('log points evaluate their {expressions} and do not stop', async () => {
    let placed: { verified: boolean; message?: string }[] = [];
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, async (c) => {
      placed = (
        await c.setBreakpointsRequest({
          source: src,
          breakpoints: [
            { line: 15, logMessage: 'never: {nosuch}' },
            { line: 17, logMessage: 'before the pte store: exits={exits.total} fault={last.fault} gpte={gpte(0x400000)}' },
            { line: 19, logMessage: 'retry: spte={spte(0x400000)} {{literal}} {gpte(1 << 60)}' },
          ],
        })
      ).body.breakpoints;
    });
    expect(s.reason).toBe('end');
    expect(placed[0]!.verified).toBe(false);
    expect(placed[0]!.message).toMatch(/nosuch/);
    const logs = dc.outputs.filter((o) => o.category === 'console').map((o) => o.output);
    expect(logs).toEqual([
      'before the pte store: exits=2 fault=4 gpte=0\n',
      'retry: spte=0x100200067 {literal} <error: gpte: address 0x1000000000000000 is out of range (below 0x800000000000)>\n',
    ]);
    const logLine = dc.outputs.find((o) => o.category === 'console')!;
    expect(logLine.line).toBe(17);
  });
});

describe('function breakpoints', () => {
  test('kvm_mmu_pte_write stops inside the handler of the trapped store', async () => {
    let placed: { verified: boolean; message?: string }[] = [];
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false }, async (c) => {
      placed = (await c.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'kvm_mmu_pte_write' }, { name: 'no_such_fn' }] })).body.breakpoints;
    });
    expect(placed.map((b) => b.verified)).toEqual([true, false]);
    expect(s.reason).toBe('function breakpoint');
    const f = await frames(dc);
    expect(f.map((x) => x.name.split(':')[0])).toEqual(['kvm_mmu_pte_write', 'paging64_page_fault', 'pte 0x400000 = 0x200067']);
    expect(f[0]!.name).toBe('kvm_mmu_pte_write: gpa 0x10003000, 8 bytes; write 1 in a row to gfn 0x10003');
    expect(f.every((x) => x.line === 17)).toBe(true);
    expect((await cont(dc)).reason).toBe('end');
    // Backwards: the same stop.
    expect((await reverse(dc)).reason).toBe('function breakpoint');
    expect((await frames(dc))[0]!.name.startsWith('kvm_mmu_pte_write')).toBe(true);
    expect(await topLine(dc)).toBe(17);
  });

  test('names with or without the paging prefix; hit conditions; labels', async () => {
    const file = fixture('filters.mmutrace');
    const s = await launch(dc, { program: file, stopOnEntry: false }, (c) =>
      c.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'kvm_mmu_pte_write', hitCondition: '3' }, { name: 'paging32_walk_addr' }] }),
    );
    // The third trapped store is the one that floods.
    expect(s.reason).toBe('function breakpoint');
    expect(await topLine(dc)).toBe(lineOf(file, 'pte 0x403000'));
    expect((await frames(dc))[0]!.name).toMatch(/write 3 in a row to gfn 0x10003: flooded$/);
    await dc.stop();
    dc = await startClient();
    const s2 = await launch(dc, { program: DEMAND, stopOnEntry: false }, (c) =>
      c.setFunctionBreakpointsRequest({ breakpoints: [{ name: '@fault' }, { name: 'paging64_walk_addr', condition: 'exit.outcome == "emulate"' }, { name: 'walk_addr', hitCondition: '% 2' }] }),
    );
    // The label first (before line 15, where it would stop); then walk_addr every 2nd exiting walk.
    expect(s2.reason).toBe('function breakpoint');
    expect(await topLine(dc)).toBe(15);
    expect((await frames(dc)).length).toBe(1);
    const s3 = await cont(dc);
    expect(s3.reason).toBe('function breakpoint');
    expect(await topLine(dc)).toBe(15);
    expect((await frames(dc))[0]!.name).toMatch(/^paging64_walk_addr: L4 entry/);
  });
});

describe('data breakpoints', () => {
  test('on the leaf guest pte: forwards and backwards', async () => {
    await launch(dc, { program: DEMAND });
    await next(dc); // before line 15: the guest walk is of 0x400000
    const sc = (await scopes(dc)).find((x) => x.name === 'Guest walk of 0x400000')!;
    const info = (await dc.dataBreakpointInfoRequest({ variablesReference: sc.variablesReference, name: 'L1 [0]' })).body;
    expect(info.dataId).toBe('g:0x10003000:8');
    expect(info.accessTypes).toEqual(['write']);
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId!, accessType: 'write' }] });
    expect(set.body.breakpoints[0]!.verified).toBe(true);
    let s = await cont(dc);
    expect(s.reason).toBe('data breakpoint');
    expect(s.description).toBe('guest entry at 0x10003000 changed: 0x0 → 0x200067');
    expect(await topLine(dc)).toBe(17);
    expect((await frames(dc))[0]!.name).toBe('pte 0x400000 = 0x200067  (done)');
    // Nothing changes it again.
    expect((await cont(dc)).reason).toBe('end');
    // Backwards: the same change.
    s = await reverse(dc);
    expect(s.reason).toBe('data breakpoint');
    expect(await topLine(dc)).toBe(17);
    expect(await evaluate(dc, 'gpte(0x400000)')).toBe('0x200067 P W U A D → gfn 0x200');
    // One step back, before the store: the old value.
    await stepBack(dc);
    expect(await topLine(dc)).toBe(17);
    expect(await evaluate(dc, 'gpte(0x400000)')).toBe('0x0 not present');
    expect((await reverse(dc)).reason).toBe('entry');
  });

  test('on a shadow entry: the update policy installs it', async () => {
    await launch(dc, { program: DEMAND });
    await next(dc);
    await next(dc); // before line 17
    const sc = (await scopes(dc)).find((x) => x.name === 'Shadow walk of 0x400000')!;
    const v = await vars(dc, sc.variablesReference);
    expect(v.map((x) => x.name)).toContain('L1 #4 [0]');
    const info = (await dc.dataBreakpointInfoRequest({ variablesReference: sc.variablesReference, name: 'L1 #4 [0]' })).body;
    expect(info.dataId).toBe('s:4:0');
    await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId! }] });
    const s = await cont(dc);
    expect(s.reason).toBe('data breakpoint');
    expect(s.description).toBe('shadow page #4 [0] changed: 0x0 → 0x100200067');
    // Variables show the breakpoint.
    const sc2 = (await scopes(dc)).find((x) => x.name === 'Shadow walk of 0x400000')!;
    const leaf = (await vars(dc, sc2.variablesReference)).find((x) => x.name === 'L1 #4 [0]')!;
    expect(leaf.presentationHint!.attributes).toContain('hasDataBreakpoint');
    // A variable that is not an entry has no dataId.
    const ev = (await scopes(dc)).find((x) => x.name === 'Event')!;
    const none = (await dc.dataBreakpointInfoRequest({ variablesReference: ev.variablesReference, name: 'line' })).body;
    expect(none.dataId).toBeNull();
  });
});
