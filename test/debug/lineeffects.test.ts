// The custom request `lineEffects` over DAP, against the built adapter: what
// each line run before the stop did, for the editor's inline values.
//
// Expected values, from engine.md on examples/demand-fault.mmutrace:
//   13 read 0x401000: the first touch of the page table: one exit, a fill.
//   14 expect: holds.
//   15 read 0x400000: the guest pte is not present: one exit, #PF 0x4 injected
//      (not present, read, user).
//   16 expect: holds.
//   17 pte 0x400000 = ...: the page table is write-protected: one exit, emulate;
//      under update the seed's rule installs the spte (updated 1), under zap
//      there is nothing to zap (no spte was built for the injected fault).
//   18 expect: holds.
//   19 read 0x400000: update: no exit; zap: the refault, one exit, a fill.

import { afterEach, describe, expect, test } from 'vitest';
import type { LineEffect } from '../../src/debug/lineeffects';
import { DEMAND, INIT_ARGS, cont, next, raw, startClient, stepBack, type Client } from './helpers';

type Row = [line: number, exits: number, outcome: string, fault: number, zapped: number, updated: number];

function rows(lines: LineEffect[]): (Row | [number, boolean])[] {
  return lines.map((e) => {
    if (e.expect) return [e.line, e.expect.passed];
    const outcome = (['fill', 'inject', 'emulate', 'cr3'] as const).filter((k) => (e[k] ?? 0) > 0).join('+') || 'none';
    return [e.line, e.exits, outcome, e.fault, e.zapped ?? 0, e.updated ?? 0];
  });
}

async function effects(dc: Client, args: Record<string, unknown> = {}): Promise<LineEffect[]> {
  const r = await raw(dc, 'lineEffects', args);
  expect(r.success, r.message).toBe(true);
  return (r.body as { lines: LineEffect[] }).lines;
}

async function start(policy: string): Promise<Client> {
  const dc = await startClient();
  const caps = await dc.initializeRequest(INIT_ARGS);
  expect((caps.body as Record<string, unknown>).supportsLineEffectsRequest).toBe(true);
  // Not launched: a clean error, not a crash.
  expect((await raw(dc, 'lineEffects', {})).success).toBe(false);
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest({ program: DEMAND, policy, stopOnEntry: true } as never);
  await initialized;
  const stopped = dc.waitForEvent('stopped');
  await dc.configurationDoneRequest();
  await stopped;
  return dc;
}

describe('lineEffects over DAP', () => {
  let dc: Client | null = null;
  afterEach(async () => {
    await dc?.stop();
    dc = null;
  });

  test('update: the lines above the stop, what each did; back and forth', async () => {
    dc = await start('update');
    expect(await effects(dc)).toEqual([]); // on entry nothing has run
    for (let i = 0; i < 3; i++) await next(dc); // before line 19
    expect(rows(await effects(dc))).toEqual([
      [13, 1, 'fill', -1, 0, 0],
      [14, true],
      [15, 1, 'inject', 0x4, 0, 0],
      [16, true],
      [17, 1, 'emulate', -1, 0, 1],
      [18, true],
    ]);
    // A range: the lines in sight only.
    expect(rows(await effects(dc, { startLine: 15, endLine: 16 }))).toEqual([
      [15, 1, 'inject', 0x4, 0, 0],
      [16, true],
    ]);
    // Back to line 15: only what ran before it.
    await stepBack(dc);
    await stepBack(dc);
    expect(rows(await effects(dc)).map((r) => r[0])).toEqual([13, 14]);
    // To the end: the retry costs nothing under update.
    await cont(dc);
    expect(rows(await effects(dc, { startLine: 19 }))).toEqual([
      [19, 0, 'none', -1, 0, 0],
      [20, true],
    ]);
  });

  test('zap: the pte write zaps nothing; the retry faults again', async () => {
    dc = await start('zap');
    await cont(dc);
    expect(rows(await effects(dc, { startLine: 17 }))).toEqual([
      [17, 1, 'emulate', -1, 0, 0],
      [18, true],
      [19, 1, 'fill', -1, 0, 0],
      [20, true],
    ]);
  });

  test('bad arguments get an error that names them', async () => {
    dc = await start('update');
    for (const [args, re] of [
      [{ startLine: 0 }, /startLine/],
      [{ startLine: 'x' }, /startLine/],
      [{ endLine: 1.5 }, /endLine/],
    ] as const) {
      const r = await raw(dc, 'lineEffects', args);
      expect(r.success).toBe(false);
      expect(r.message).toMatch(re);
    }
    // An empty range is not an error.
    expect(await effects(dc, { startLine: 10, endLine: 5 })).toEqual([]);
  });
});
