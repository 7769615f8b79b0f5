// Long seeks run in time slices (issue 17, item 2): a goto to the end of a
// 1M-event trace with the audit on lets other requests through, can be
// paused or cancelled (its progress's cancel), shows cancellable progress,
// and disconnect ends the adapter in the middle of it. Everything here is
// ordering (what arrives before what), not timing.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { TraceRuntime, type RuntimeHost, type StopInfo } from '../../src/debug/runtime';
import { bigTrace } from './gen';
import { launch, startClient, topLine, vcpuStop, writeTemp, type Client } from './helpers';

const EVENTS = 1_000_000;
let file = '';
let text = '';
/** The line of the last event, and of the first. */
let lastLine = 0;
let firstLine = 0;
let dc: Client | null = null;

beforeAll(() => {
  text = bigTrace({ events: EVENTS, seed: 17 });
  file = writeTemp('seek-1m.mmutrace', text);
  const lines = text.split('\n');
  // bigTrace ends with an empty line; the events are its last EVENTS lines before it.
  lastLine = lines.length - 1;
  firstLine = lastLine - EVENTS + 1;
});

afterAll(() => {
  if (file) rmSync(file, { force: true });
});

afterEach(async () => {
  if (dc) await dc.stop().catch(() => undefined);
  dc = null;
});

/** Launched with the audit on (the default), stopped on entry; the background load finished. */
async function started(): Promise<Client> {
  const c = await startClient();
  dc = c;
  c.defaultTimeout = 60_000;
  const loaded = new Promise<void>((res) => {
    c.on('progressEnd', (e: DebugProtocol.ProgressEndEvent) => {
      if (e.body.progressId.startsWith('mmutrace-load')) res();
    });
  });
  const stop = await launch(c, { program: file });
  expect(stop.reason).toBe('entry');
  expect(await topLine(c)).toBe(firstLine);
  await loaded;
  return c;
}

/** The goto target of the last event line. */
async function lastTarget(c: Client): Promise<number> {
  const r = await c.gotoTargetsRequest({ source: { path: file }, line: lastLine });
  const t = r.body.targets[0]!;
  expect(t.line).toBe(lastLine);
  return t.id;
}

describe('a goto to the end of a 1M-event trace, audit on', () => {
  test('threads sent during it is answered before its stop; it shows cancellable progress; it stops at the target', async () => {
    const c = await started();
    const target = await lastTarget(c);
    const order: string[] = [];
    const progress: DebugProtocol.Event[] = [];
    for (const name of ['progressStart', 'progressUpdate', 'progressEnd']) c.on(name, (e: DebugProtocol.Event) => progress.push(e));
    const stopped = c.waitForEvent('stopped').then((e) => {
      order.push('stopped');
      return vcpuStop(e as DebugProtocol.StoppedEvent);
    });
    await c.gotoRequest({ threadId: 1, targetId: target });
    order.push('goto answered');
    const threads = await c.threadsRequest();
    order.push('threads answered');
    expect(threads.body.threads.map((t) => t.name)).toEqual(['vCPU 0']);
    const s = await stopped;
    expect(order).toEqual(['goto answered', 'threads answered', 'stopped']);
    expect(s.reason).toBe('goto');
    expect(s.description).toBe(`Jumped to line ${lastLine}`);
    expect(await topLine(c)).toBe(lastLine);
    // Progress of the seek: one sequence, started cancellable, ended before the stop's answer came.
    const starts = progress.filter((e) => e.event === 'progressStart' && (e as DebugProtocol.ProgressStartEvent).body.progressId.startsWith('mmutrace-run'));
    expect(starts).toHaveLength(1);
    const st = starts[0] as DebugProtocol.ProgressStartEvent;
    expect(st.body.cancellable).toBe(true);
    expect(st.body.title).toBe(`Going to line ${lastLine}`);
    const id = st.body.progressId;
    const updates = progress.filter((e) => e.event === 'progressUpdate' && (e as DebugProtocol.ProgressUpdateEvent).body.progressId === id) as DebugProtocol.ProgressUpdateEvent[];
    const pcts = updates.map((u) => u.body.percentage!).filter((p) => p !== undefined);
    // Percentages only grow, and stay within 0..99 (100 is the end event).
    for (let i = 1; i < pcts.length; i++) expect(pcts[i]!).toBeGreaterThanOrEqual(pcts[i - 1]!);
    for (const p of pcts) expect(p >= 0 && p <= 99).toBe(true);
    expect(progress.some((e) => e.event === 'progressEnd' && (e as DebugProtocol.ProgressEndEvent).body.progressId === id)).toBe(true);
  });

  test('pause during it stops where it is: a pause stop between the start and the target', async () => {
    const c = await started();
    const target = await lastTarget(c);
    const stopped = c.waitForEvent('stopped');
    await c.gotoRequest({ threadId: 1, targetId: target });
    await c.pauseRequest({ threadId: 1 });
    const s = vcpuStop((await stopped) as DebugProtocol.StoppedEvent);
    expect(s.reason).toBe('pause');
    expect(s.description).toBe('Paused');
    const line = await topLine(c);
    expect(line).toBeGreaterThan(firstLine);
    expect(line).toBeLessThan(lastLine);
    // The session goes on from there: a step back is one event back.
    const back = c.waitForEvent('stopped');
    await c.stepBackRequest({ threadId: 1 });
    expect(vcpuStop((await back) as DebugProtocol.StoppedEvent).reason).toBe('step');
    expect(await topLine(c)).toBe(line - 1);
  });

  test('a cancel of its progress stops it where it is (a pause stop, "Cancelled")', async () => {
    const c = await started();
    const target = await lastTarget(c);
    const started_ = c.waitForEvent('progressStart') as Promise<DebugProtocol.ProgressStartEvent>;
    const stopped = c.waitForEvent('stopped');
    await c.gotoRequest({ threadId: 1, targetId: target });
    let st = await started_;
    while (!st.body.progressId.startsWith('mmutrace-run')) st = (await c.waitForEvent('progressStart')) as DebugProtocol.ProgressStartEvent;
    const r = await c.customRequest('cancel', { progressId: st.body.progressId });
    expect(r.success).toBe(true);
    const s = vcpuStop((await stopped) as DebugProtocol.StoppedEvent);
    expect(s.reason).toBe('pause');
    expect(s.description).toBe('Cancelled');
    const line = await topLine(c);
    expect(line).toBeGreaterThan(firstLine);
    expect(line).toBeLessThan(lastLine);
  });

  test('disconnect during it ends the adapter process before the goto would stop', async () => {
    const c = await started();
    const target = await lastTarget(c);
    const proc = (c as unknown as { _adapterProcess: ChildProcess })._adapterProcess;
    const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
    const stops: string[] = [];
    c.on('stopped', (e: DebugProtocol.StoppedEvent) => stops.push(e.body.reason));
    await c.gotoRequest({ threadId: 1, targetId: target });
    await c.disconnectRequest({});
    expect(await exited).toBe(0);
    expect(stops).toEqual([]);
    dc = null;
  });
});

describe('a goto to a line the background parse has not reached (in-process)', () => {
  /** A runtime on the 1M-event text, stopped on entry: only the head and a slice or two are parsed then. */
  async function entry(): Promise<{ rt: TraceRuntime; nextStop: () => Promise<StopInfo> }> {
    let onStop: ((s: StopInfo) => void) | null = null;
    const host: RuntimeHost = { output() {}, stopped: (s) => onStop?.(s), terminated() {}, progress() {}, breakpointsChanged() {}, invalidated() {} };
    const nextStop = (): Promise<StopInfo> => new Promise((res) => (onStop = res));
    const rt = new TraceRuntime(host);
    rt.load({ program: 'seek-1m.mmutrace', audit: true, logExits: false }, text);
    const first = nextStop();
    rt.start(true);
    expect((await first).reason).toBe('entry');
    return { rt, nextStop };
  }

  test('it parses up to the line in slices, then goes to its event', async () => {
    const { rt, nextStop } = await entry();
    const target = firstLine + 600_000;
    expect(rt.linesParsed).toBeLessThan(target);
    const stop = nextStop();
    rt.gotoLine(target);
    expect(rt.state).toBe('running');
    const s = await stop;
    expect(s.reason).toBe('goto');
    expect(s.description).toBe(`Jumped to line ${target}`);
    expect(rt.currentLine).toBe(target);
    rt.dispose();
  });

  test('pause while it parses stops where the session stood', async () => {
    const { rt, nextStop } = await entry();
    const stop = nextStop();
    rt.gotoLine(lastLine);
    expect(rt.pause()).toBe(true);
    const s = await stop;
    expect(s.reason).toBe('pause');
    expect(rt.currentLine).toBe(firstLine);
    rt.dispose();
  });
});
