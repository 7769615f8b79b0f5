// Robustness: a trace that does not parse, requests with missing or wrong
// arguments, unknown references, requests out of order, and a randomized run
// of more than 10,000 requests after which the adapter still answers.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { prng } from './gen';
import { DEMAND, INIT_ARGS, cont, fixture, launch, raw, startClient, topLine, type Client } from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

describe('launch failures', () => {
  test('a trace that does not parse fails launch with every diagnostic; the adapter stays up', async () => {
    await dc.initializeRequest(INIT_ARGS);
    const r = await raw(dc, 'launch', { program: fixture('bad.mmutrace') });
    expect(r.success).toBe(false);
    const lines = r.message!.split('\n');
    expect(lines[0]).toMatch(/bad\.mmutrace does not parse:$/);
    expect(lines.slice(1)).toEqual([
      '5:1 unknown keyword `raed` (did you mean `read`?)',
      '6:6 `0x4zz000` is not a number: `z` is not a hex digit',
      '7:1 `map` is a setup directive: setup directives must come before the first event (line 6) (use `pte`)',
    ]);
    // Still answering.
    expect((await raw(dc, 'threads')).success).toBe(true);
    const d = await raw(dc, 'disconnect', {});
    expect(d.success).toBe(true);
  });

  test('a missing file, an unknown policy, wrong argument types', async () => {
    await dc.initializeRequest(INIT_ARGS);
    const missing = await raw(dc, 'launch', { program: '/no/such/file.mmutrace' });
    expect(missing.success).toBe(false);
    expect(missing.message).toBe('cannot read /no/such/file.mmutrace: no such file');
    expect((await raw(dc, 'launch', { program: DEMAND, policy: 'yolo' })).message).toBe('launch: unknown policy `yolo`; known policies: zap, update, access, tdp');
    expect((await raw(dc, 'launch', {})).message).toMatch(/`program`/);
    expect((await raw(dc, 'launch', { program: 42 })).success).toBe(false);
    expect((await raw(dc, 'launch', { program: DEMAND, stopOnEntry: 'yes' })).message).toBe('launch: `stopOnEntry` must be true or false');
    expect((await raw(dc, 'launch', { program: fixture('') })).success).toBe(false);
    // After all that, a good launch works.
    const initialized = dc.waitForEvent('initialized');
    expect((await raw(dc, 'launch', { program: DEMAND })).success).toBe(true);
    await initialized;
    expect((await raw(dc, 'launch', { program: DEMAND })).message).toBe('the session has already launched a trace');
    const stopped = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    await stopped;
    expect(await topLine(dc)).toBe(13);
  });
});

describe('loading', () => {
  /** The order of stops, stderr output and the end of the session, as the client receives them. */
  function eventOrder(c: Client): string[] {
    const seen: string[] = [];
    c.on('stopped', (e: DebugProtocol.StoppedEvent) => seen.push(`stopped ${e.body.reason}`));
    c.on('output', (e: DebugProtocol.OutputEvent) => {
      if (e.body.category === 'stderr') seen.push('stderr');
    });
    c.on('terminated', () => seen.push('terminated'));
    return seen;
  }

  /** A trace of 30,000 events (far more than the 2,000 lines parsed before the first stop) with two bad lines at its end. */
  async function lateErrorTrace(): Promise<{ file: string; lines: number }> {
    const { writeTemp } = await import('./helpers');
    const { bigTrace } = await import('./gen');
    const text = bigTrace({ events: 30_000, pages: 16, seed: 5 }) + 'raed 0x1000\nread 0x1000 @\n';
    return { file: writeTemp('late-error.mmutrace', text), lines: text.split('\n').length - 1 };
  }

  test('an error far into a large trace: the session stops on entry, then reports every diagnostic and terminates', async () => {
    const { file, lines } = await lateErrorTrace();
    const order = eventOrder(dc);
    const terminated = dc.waitForEvent('terminated', 20_000);
    const s = await launch(dc, { program: file });
    expect(s.reason).toBe('entry');
    await terminated;
    const err = dc.outputs.filter((o) => o.category === 'stderr').map((o) => o.output).join('');
    expect(err).toContain(`${lines - 1}:1 unknown keyword \`raed\``);
    expect(err).toContain(`${lines}:`);
    expect(order).toEqual(['stopped entry', 'stderr', 'terminated']);
    expect((await raw(dc, 'threads')).success).toBe(true);
  });

  test('a late error the background parse finds before configurationDone waits for the first stop (the same order every time)', async () => {
    const { file, lines } = await lateErrorTrace();
    const order = eventOrder(dc);
    const terminated = dc.waitForEvent('terminated', 20_000);
    // configurationDone only once the background parse has met the error (its progress ends).
    const s = await launch(dc, { program: file }, (c) => c.waitForEvent('progressEnd', 20_000));
    expect(s.reason).toBe('entry');
    await terminated;
    expect(order).toEqual(['stopped entry', 'stderr', 'terminated']);
    expect(dc.outputs.find((o) => o.category === 'stderr')!.output).toContain(`${lines - 1}:1 unknown keyword \`raed\``);
  });

  test('without stopOnEntry, a late error found early still lets the run reach its first stop (a breakpoint), then ends the session', async () => {
    const { file } = await lateErrorTrace();
    const order = eventOrder(dc);
    const terminated = dc.waitForEvent('terminated', 20_000);
    // Line 100 is a `read` or `write` event of the generated trace (its setup ends on line 11).
    let bp: DebugProtocol.Breakpoint | undefined;
    const s = await launch(dc, { program: file, stopOnEntry: false }, async (c) => {
      await c.waitForEvent('progressEnd', 20_000);
      bp = (await c.setBreakpointsRequest({ source: { path: file }, breakpoints: [{ line: 100 }] })).body.breakpoints[0];
    });
    expect(bp).toMatchObject({ verified: true, line: 100 });
    expect(s.reason).toBe('breakpoint');
    expect(s.hitBreakpointIds).toEqual([bp!.id]);
    await terminated;
    expect(order).toEqual(['stopped breakpoint', 'stderr', 'terminated']);
  });

  test('a trace without events stops at its end', async () => {
    const { writeTemp } = await import('./helpers');
    const file = writeTemp('no-events.mmutrace', 'mode 64\nspace a\nmap 0x1000 = 0x2000 P W\n');
    const s = await launch(dc, { program: file });
    expect(s.reason).toBe('entry');
    const f = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
    expect(f[0]!.name).toBe('end of the trace');
    expect((await raw(dc, 'stepBack', { threadId: 1 })).success).toBe(true);
  });

  test('logExits false logs no exits; noDebug runs to the end and prints a summary', async () => {
    const s = await launch(dc, { program: DEMAND, stopOnEntry: false, logExits: false });
    expect(s.reason).toBe('end');
    expect(dc.outputs.filter((o) => o.category === 'stdout')).toEqual([]);
    await dc.stop();
    dc = await startClient();
    await dc.initializeRequest(INIT_ARGS);
    const initialized = dc.waitForEvent('initialized');
    const terminated = dc.waitForEvent('terminated');
    await dc.launchRequest({ program: DEMAND, noDebug: true } as never);
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: DEMAND }, breakpoints: [{ line: 15 }] });
    await dc.configurationDoneRequest();
    await terminated;
    const summary = dc.outputs.find((o) => o.category === 'console')!.output;
    expect(summary).toBe('4 events, 3 exits (pf 3: fill 1, inject 1, emulate 1; cr3 0), 1 faults injected, expectations 4 passed 0 failed, audit 0 violations\n');
  });
});

describe('bad requests', () => {
  test('before initialize and before launch', async () => {
    expect((await raw(dc, 'launch', { program: DEMAND })).message).toBe('launch before initialize');
    await dc.initializeRequest(INIT_ARGS);
    expect((await raw(dc, 'initialize', INIT_ARGS)).success).toBe(false);
    for (const [cmd, args] of [
      ['next', { threadId: 1 }],
      ['continue', { threadId: 1 }],
      ['stackTrace', { threadId: 1 }],
      ['scopes', { frameId: 1 }],
      ['variables', { variablesReference: 1 }],
      ['evaluate', { expression: '1' }],
      ['readMemory', { memoryReference: '0x0', count: 4 }],
      ['goto', { threadId: 1, targetId: 1 }],
      ['stepBack', { threadId: 1 }],
      ['pause', { threadId: 1 }],
      ['terminate', {}],
      ['restart', {}],
      ['exceptionInfo', { threadId: 1 }],
    ] as const) {
      const r = await raw(dc, cmd, args);
      expect(r.success, cmd).toBe(false);
    }
    // Threads before launch: none.
    expect((await raw(dc, 'threads')).body.threads).toEqual([]);
  });

  test('missing and wrong arguments, unknown references, at a stop', async () => {
    await launch(dc, { program: DEMAND });
    const bad: [string, unknown][] = [
      ['stackTrace', {}],
      ['stackTrace', { threadId: 'one' }],
      ['stackTrace', { threadId: 99 }],
      ['scopes', {}],
      ['scopes', { frameId: 12345 }],
      ['variables', {}],
      ['variables', { variablesReference: 987654 }],
      ['variables', { variablesReference: -1 }],
      ['variables', { variablesReference: 1.5 }],
      ['evaluate', {}],
      ['evaluate', { expression: 5 }],
      ['evaluate', { expression: '1', frameId: 777 }],
      ['evaluate', { expression: ')' }],
      ['completions', {}],
      ['completions', { text: 'ex' }],
      ['setBreakpoints', {}],
      ['setBreakpoints', { source: {} }],
      ['setBreakpoints', { source: { path: DEMAND }, breakpoints: 'all' }],
      ['setBreakpoints', { source: { path: DEMAND }, breakpoints: [{ line: 'x' }] }],
      ['setFunctionBreakpoints', {}],
      ['setFunctionBreakpoints', { breakpoints: [{}] }],
      ['setExceptionBreakpoints', {}],
      ['setExceptionBreakpoints', { filters: [1] }],
      ['setDataBreakpoints', { breakpoints: [{ dataId: 5 }] }],
      ['dataBreakpointInfo', {}],
      ['dataBreakpointInfo', { name: 'x', variablesReference: 424242 }],
      ['readMemory', {}],
      ['readMemory', { memoryReference: '0x0' }],
      ['readMemory', { memoryReference: 's#999', count: 8 }],
      ['readMemory', { memoryReference: '0x0', count: -1 }],
      ['goto', { threadId: 1 }],
      ['goto', { threadId: 1, targetId: 0 }],
      ['gotoTargets', { line: 3 }],
      ['breakpointLocations', { source: { path: DEMAND } }],
      ['exceptionInfo', { threadId: 1 }],
      ['pause', { threadId: 1 }],
      ['next', { threadId: 'x' }],
      ['attach', {}],
      ['setVariable', { variablesReference: 1, name: 'a', value: '1' }],
      ['disassemble', {}],
      ['writeMemory', {}],
      ['noSuchCommand', {}],
      ['source', { sourceReference: 1 }],
      ['configurationDone', {}],
      ['threads', [1, 2]],
    ];
    for (const [cmd, args] of bad) {
      const r = await raw(dc, cmd, args);
      expect(r.success, `${cmd} ${JSON.stringify(args)}`).toBe(false);
      expect(typeof r.message, cmd).toBe('string');
    }
    // The session is still fine.
    expect(await topLine(dc)).toBe(13);
    expect((await cont(dc)).reason).toBe('end');
  });

  test('requests while running get errors; pause stops', async () => {
    const { writeTemp } = await import('./helpers');
    const { bigTrace } = await import('./gen');
    const file = writeTemp('running.mmutrace', bigTrace({ events: 200_000, pages: 32, seed: 3 }));
    await launch(dc, { program: file });
    const stopped = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
    const st = await raw(dc, 'stackTrace', { threadId: 1 });
    const nx = await raw(dc, 'next', { threadId: 1 });
    const pause = await raw(dc, 'pause', { threadId: 1 });
    const s = (await stopped) as { body: { reason: string } };
    // The run was still going: errors, then a pause (a machine fast enough to run 200,000 events before the
    // next request gets through would end it instead).
    expect(['pause', 'end']).toContain(s.body.reason);
    if (s.body.reason === 'pause') {
      expect(st.success).toBe(false);
      expect(nx.success).toBe(false);
      expect(pause.success).toBe(true);
    }
    expect((await raw(dc, 'stackTrace', { threadId: 1 })).success).toBe(true);
  });
});

describe('randomized requests', () => {
  test('10,000 random requests, then the adapter still answers', async () => {
    await launch(dc, { program: fixture('filters.mmutrace') });
    const rnd = prng(20240601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const int = (): number => pick([0, 1, 2, 3, 5, 8, 13, 21, -1, 1e9, 2 ** 53, 1.5]);
    const junk = (): unknown => pick([undefined, null, 0, -1, 'x', '', [], {}, { a: 1 }, true, 1e300, '0x1000', 's#1']);
    const filePath = fixture('filters.mmutrace');
    const exprs = ['exits.total', 'gpte(0x400000)', 'spte(0x401000, 2)', 'exit.reason', 'cr3 & ~0xfff', '(', 'gpa(1<<70)', 'last', 'nosuch', '"s" + 1', '1/0', 'shadowed(0x10003000)', '@fault', '0x401000'];
    const requests: (() => [string, unknown])[] = [
      () => ['next', { threadId: pick([1, 1, 2, junk()]) }],
      () => ['stepIn', { threadId: 1 }],
      () => ['stepOut', { threadId: 1 }],
      () => ['stepBack', { threadId: 1 }],
      () => ['continue', { threadId: 1 }],
      () => ['reverseContinue', { threadId: 1 }],
      () => ['pause', { threadId: 1 }],
      () => ['goto', { threadId: 1, targetId: int() }],
      () => ['gotoTargets', { source: { path: pick([filePath, '/x']) }, line: int() }],
      () => ['threads', {}],
      () => ['stackTrace', { threadId: pick([1, 2, junk()]), startFrame: pick([undefined, 0, 1, 5]), levels: pick([undefined, 0, 1, 20]) }],
      () => ['scopes', { frameId: int() }],
      () => ['variables', { variablesReference: int(), filter: pick([undefined, 'indexed', 'named', 'bogus']), start: pick([undefined, 0, 3, -2]), count: pick([undefined, 0, 2, 50]) }],
      () => ['evaluate', { expression: pick(exprs), frameId: pick([undefined, int()]), context: pick(['repl', 'watch', 'hover', 'clipboard', undefined]), format: pick([undefined, { hex: true }, { hex: 'no' }]) }],
      () => ['completions', { text: pick(['ex', 'exit.', 'gp', '', '"ex', '1.']), column: int() }],
      () => ['setBreakpoints', { source: { path: filePath }, breakpoints: [{ line: int(), condition: pick([undefined, 'exits.total > 2', '(', junk()]), hitCondition: pick([undefined, '2', '% 3', 'x']), logMessage: pick([undefined, 'x={exits.total}', '{']) }] }],
      () => ['setFunctionBreakpoints', { breakpoints: [{ name: pick(['kvm_mmu_pte_write', 'walk_addr', 'nope', '@none', junk()]) }] }],
      () => ['setExceptionBreakpoints', { filters: pick([[], ['vmexit'], ['flood', 'guest-fault'], ['pte-write'], [junk()]]), filterOptions: pick([undefined, [{ filterId: 'vmexit', condition: 'exit.reason == "cr3"' }]]) }],
      () => ['dataBreakpointInfo', { variablesReference: int(), name: pick(['L1 [0]', 'cr3', junk()]) }],
      () => ['setDataBreakpoints', { breakpoints: pick([[], [{ dataId: 'g:0x10003000:8' }], [{ dataId: 's:4:0' }], [{ dataId: junk() }], [{ dataId: 'g:0x3:8' }]]) }],
      () => ['breakpointLocations', { source: { path: filePath }, line: int(), endLine: pick([undefined, int()]) }],
      () => ['readMemory', { memoryReference: pick(['0x10003000', 's#1', 's#4', '0x0', 'zz', junk()]), offset: pick([undefined, 0, -8, 4096, int()]), count: pick([0, 8, 64, -1, int()]) }],
      () => ['exceptionInfo', { threadId: 1 }],
      () => [pick(['setVariable', 'modules', 'loadedSources', 'disassemble', 'cancel', 'stepInTargets', 'restartFrame', 'bogus']), junk()],
      () => [pick(['stackTrace', 'scopes', 'variables', 'evaluate', 'next', 'goto', 'readMemory']), junk()],
      () => (rnd() < 0.02 ? ['restart', {}] : ['threads', {}]),
      () => (rnd() < 0.005 ? ['terminate', {}] : ['threads', {}]),
    ];
    let answered = 0;
    let stops = 0;
    dc.on('stopped', () => stops++);
    for (let i = 0; i < 10_000; i++) {
      const [cmd, args] = pick(requests)();
      const r = await raw(dc, cmd, args);
      expect(typeof r.success).toBe('boolean');
      answered++;
      // Let motions finish now and then, so that most requests meet a stopped session.
      if (i % 11 === 0) await new Promise((res) => setTimeout(res, 0));
    }
    expect(answered).toBe(10_000);
    expect(stops).toBeGreaterThan(100);
    // Still alive and coherent: restart, stop on entry, inspect.
    const stopped = dc.waitForEvent('stopped', 10_000);
    const rs = await raw(dc, 'restart', { arguments: { program: fixture('filters.mmutrace') } });
    expect(rs.success).toBe(true);
    await stopped;
    expect((await raw(dc, 'threads')).success).toBe(true);
    expect(await topLine(dc)).toBeGreaterThan(0);
    expect((await raw(dc, 'evaluate', { expression: 'exits.total', context: 'repl' })).success).toBe(true);
  });
});
