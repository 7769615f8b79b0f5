// Which errors the client shows: `showUser` only for the user's own mistakes
// (a launch configuration that is wrong, a trace that does not parse, an
// expression typed that does not parse). References of an earlier stop, which
// VS Code asks about in a normal race after a step or while the next stop is
// on its way, answer empty lists, never an error.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { bigTrace } from './gen';
import { DEMAND, INIT_ARGS, fixture, frames, launch, next, startClient, writeTemp, type Client } from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

/** Sends a request and resolves with the whole response, its error body included. */
function full(c: Client, command: string, args?: unknown): Promise<DebugProtocol.Response> {
  return new Promise((resolve) => {
    // ProtocolClient.send turns a failure into an Error without the body; doSend hands the response over as it came.
    (c as unknown as { doSend(command: string, args: unknown, clb: (r: DebugProtocol.Response) => void): void }).doSend(command, args, resolve);
  });
}

/** Whether a response asks the client to show its error to the user. */
function shown(r: DebugProtocol.Response): boolean | undefined {
  return (r.body as { error?: { showUser?: boolean } } | undefined)?.error?.showUser;
}

/** Every variablesReference VS Code could hold at this stop: the top frame's scopes and their children, three levels deep. */
async function allRefs(c: Client): Promise<{ frameIds: number[]; refs: number[] }> {
  const fs = await frames(c);
  const refs: number[] = [];
  let level: number[] = [];
  for (const f of fs) for (const s of (await c.scopesRequest({ frameId: f.id })).body.scopes) if (s.variablesReference) level.push(s.variablesReference);
  for (let depth = 0; depth < 3 && level.length; depth++) {
    refs.push(...level);
    const below: number[] = [];
    for (const ref of level) {
      for (const v of (await c.variablesRequest({ variablesReference: ref })).body.variables) if (v.variablesReference) below.push(v.variablesReference);
    }
    level = below;
  }
  refs.push(...level);
  return { frameIds: fs.map((f) => f.id), refs };
}

describe('references of an earlier stop', () => {
  test('after a step, variables with each reference of the previous stop answers an empty list, no error', async () => {
    await launch(dc, { program: DEMAND });
    const before = await allRefs(dc);
    // The entry stop's scopes (event, vCPU, walks, tables, shadow pages, counters) and what is below them.
    expect(before.refs.length).toBeGreaterThan(10);
    expect((await next(dc)).reason).toBe('step');
    for (const ref of before.refs) {
      const r = await full(dc, 'variables', { variablesReference: ref });
      expect({ ref, success: r.success, body: r.body }).toEqual({ ref, success: true, body: { variables: [] } });
    }
    for (const frameId of before.frameIds) {
      const r = await full(dc, 'scopes', { frameId });
      expect({ frameId, success: r.success, body: r.body }).toEqual({ frameId, success: true, body: { scopes: [] } });
    }
    // The new stop's references still answer with their children.
    const after = await allRefs(dc);
    expect(after.refs.length).toBeGreaterThan(10);
    expect(Math.min(...after.refs)).toBeGreaterThan(Math.max(...before.refs));
  });

  test('while the trace runs, a reference of the last stop answers an empty list, no error', async () => {
    const file = writeTemp('shown-running.mmutrace', bigTrace({ events: 200_000, pages: 32, seed: 3 }));
    await launch(dc, { program: file });
    const before = await allRefs(dc);
    const stopped = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
    const v = await full(dc, 'variables', { variablesReference: before.refs[0] });
    const s = await full(dc, 'scopes', { frameId: before.frameIds[0] });
    await stopped;
    expect([v.success, v.body]).toEqual([true, { variables: [] }]);
    expect([s.success, s.body]).toEqual([true, { scopes: [] }]);
  });

  test('a reference never given out is an error, not shown', async () => {
    await launch(dc, { program: DEMAND });
    for (const [cmd, args] of [
      ['variables', { variablesReference: 1_000_000 }],
      ['variables', { variablesReference: 0 }],
      ['variables', { variablesReference: -3 }],
      ['scopes', { frameId: 1_000_000 }],
    ] as const) {
      const r = await full(dc, cmd, args);
      expect({ cmd, args, success: r.success, shown: shown(r) }).toEqual({ cmd, args, success: false, shown: false });
    }
  });
});

describe('showUser', () => {
  test('a launch configuration that is wrong, a trace that cannot be read or does not parse: shown', async () => {
    await full(dc, 'initialize', INIT_ARGS);
    for (const args of [{}, { program: DEMAND, policy: 'yolo' }, { program: DEMAND, stopOnEntry: 'yes' }, { program: '/no/such/file.mmutrace' }, { program: fixture('bad.mmutrace') }]) {
      const r = await full(dc, 'launch', args);
      expect({ args, success: r.success, shown: shown(r) }).toEqual({ args, success: false, shown: true });
    }
  });

  test('requests out of order, races and client mistakes: not shown', async () => {
    const early = await full(dc, 'launch', { program: DEMAND });
    expect([early.success, shown(early)]).toEqual([false, false]);
    await launch(dc, { program: DEMAND });
    for (const [cmd, args] of [
      ['launch', { program: DEMAND }],
      ['stackTrace', { threadId: 99 }],
      ['exceptionInfo', { threadId: 1 }],
      ['readMemory', { memoryReference: 'nonsense', count: 4 }],
      ['frobnicate', {}],
      ['evaluate', { expression: '1/0', context: 'repl' }],
      ['evaluate', { expression: '(', context: 'hover' }],
    ] as const) {
      const r = await full(dc, cmd, args);
      expect({ cmd, args, success: r.success, shown: shown(r) }).toEqual({ cmd, args, success: false, shown: false });
    }
  });

  test('an expression typed in the Debug Console or Watch that does not parse: shown', async () => {
    await launch(dc, { program: DEMAND });
    for (const context of ['repl', 'watch']) {
      const r = await full(dc, 'evaluate', { expression: '(', context });
      expect({ context, success: r.success, shown: shown(r) }).toEqual({ context, success: false, shown: true });
    }
  });
});
