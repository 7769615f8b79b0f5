// The memory budget (issue 17.3), against the built adapter in a child
// process with a small V8 heap (`--max-old-space-size`): a `continue` over a
// trace of reads each in its own 2 MiB region (a shadow page each, at the
// `shadow-pages` limit: the shape of the 1M-read trace, scaled down)
// must either reach the end or stop with the budget's exception stop; the
// adapter must never die of a heap out-of-memory. (Before the fix, the
// adapter died of a heap out-of-memory on this trace with a 128 MB heap;
// now it reaches the end with 96 MB.) The command likewise: the
// end, or one line naming the file, the line and the budget, exit status 2.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ADAPTER, ROOT, writeTemp } from './helpers';

/** `n` reads, each in its own 2 MiB region, with `shadow-pages` at n + 64 (every page kept). */
function regionsTrace(n: number): string {
  const out = ['mode 64', `shadow-pages ${n + 64}`, 'space big'];
  for (let i = 0; i < n; i++) out.push(`map 0x${(0x40000000 + i * 0x200000).toString(16)} = 0x${(0x100000 + i * 0x1000).toString(16)} P W U A D`);
  for (let i = 0; i < n; i++) out.push(`read 0x${(0x40000000 + i * 0x200000).toString(16)}`);
  return out.join('\n') + '\n';
}

interface Outcome {
  /** The stops after the entry, as their reason and description. */
  stops: { reason: string; description?: string; exceptionId?: string }[];
  exitCode: number | null;
  stderr: string;
}

/**
 * Runs the adapter with a V8 heap of `heapMb`: launch without the audit,
 * stop on entry, `continue` (or `goto` line `gotoLine`); then, after the first stop, `exceptionInfo`
 * and disconnect. Resolves when the adapter has exited.
 */
function continueUnderHeap(program: string, heapMb: number, budgetMb?: number, gotoLine?: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const env = { ...process.env, NODE_OPTIONS: `--max-old-space-size=${heapMb}` } as NodeJS.ProcessEnv;
    if (budgetMb !== undefined) env.MMUTRACE_MEMORY_BUDGET_MB = String(budgetMb);
    else delete env.MMUTRACE_MEMORY_BUDGET_MB;
    const child = spawn(process.execPath, [ADAPTER], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let seq = 1;
    const send = (command: string, args: object = {}): void => {
      const body = JSON.stringify({ seq: seq++, type: 'request', command, arguments: args });
      child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    const out: Outcome = { stops: [], exitCode: null, stderr: '' };
    let buf = Buffer.alloc(0);
    let entered = false;
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const h = buf.indexOf('\r\n\r\n');
        if (h < 0) return;
        const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, h).toString())![1]);
        if (buf.length < h + 4 + len) return;
        const msg = JSON.parse(buf.subarray(h + 4, h + 4 + len).toString()) as { type: string; event?: string; command?: string; body?: Record<string, unknown> };
        buf = buf.subarray(h + 4 + len);
        if (msg.type === 'event' && msg.event === 'initialized') send('configurationDone');
        if (msg.type === 'event' && msg.event === 'stopped') {
          const b = msg.body as { reason: string; description?: string };
          if (!entered) {
            entered = true;
            if (gotoLine !== undefined) send('gotoTargets', { source: { path: program }, line: gotoLine });
            else send('continue', { threadId: 1 });
          } else {
            out.stops.push({ reason: b.reason, description: b.description });
            send('exceptionInfo', { threadId: 1 });
          }
        }
        if (msg.type === 'response' && msg.command === 'gotoTargets') {
          const targets = (msg.body as { targets: { id: number }[] }).targets;
          send('goto', { threadId: 1, targetId: targets[0]!.id });
        }
        if (msg.type === 'response' && msg.command === 'exceptionInfo') {
          const last = out.stops[out.stops.length - 1];
          if (last && msg.body) last.exceptionId = msg.body.exceptionId as string;
          send('disconnect', { terminateDebuggee: true });
          child.stdin.end();
        }
      }
    });
    child.on('exit', (code) => {
      out.exitCode = code;
      resolve(out);
    });
    send('initialize', { adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    send('launch', { program, audit: false, logExits: false, stopOnEntry: true });
  });
}

describe('the memory budget', () => {
  const program = writeTemp('regions-60k.mmutrace', regionsTrace(60_000));

  test('a continue over 60,000 one-page regions with a 128 MB heap reaches the end or stops at the budget, never an out-of-memory', async () => {
    const r = await continueUnderHeap(program, 128);
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR/);
    expect(r.stops.length, r.stderr).toBe(1);
    const stop = r.stops[0]!;
    if (stop.reason === 'exception') {
      expect(stop.description).toMatch(/Memory budget reached: the memory budget of \d+ MB/);
      expect(stop.exceptionId).toBe('memory-budget');
    } else expect(stop.description).toMatch(/End of the trace$/);
    expect(r.exitCode).toBe(0);
  }, 60_000);

  test('with a budget of 64 MB (MMUTRACE_MEMORY_BUDGET_MB), the same continue stops with the budget exception', async () => {
    const r = await continueUnderHeap(program, 512, 64);
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR/);
    expect(r.stops).toHaveLength(1);
    expect(r.stops[0]!.reason).toBe('exception');
    expect(r.stops[0]!.description).toMatch(/Memory budget reached: the memory budget of 64 MB was reached \(\d+ MB in use\)/);
    expect(r.stops[0]!.exceptionId).toBe('memory-budget');
    expect(r.exitCode).toBe(0);
  }, 60_000);

  test('a goto to the last line with a budget of 64 MB stops with the budget exception (a seek measures it too)', async () => {
    // The last line: 3 header lines, 60,000 maps, 60,000 reads.
    const r = await continueUnderHeap(program, 512, 64, 3 + 2 * 60_000);
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR|internal error/);
    expect(r.stops).toHaveLength(1);
    expect(r.stops[0]!.reason).toBe('exception');
    expect(r.stops[0]!.description).toMatch(/Memory budget reached: the memory budget of 64 MB was reached/);
    expect(r.stops[0]!.exceptionId).toBe('memory-budget');
    expect(r.exitCode).toBe(0);
  }, 60_000);

  test('the command: the end, or one line naming the file, a line and the budget, exit status 2', () => {
    const cli = join(ROOT, 'dist/cli.js');
    for (const [heap, budget] of [
      [128, undefined],
      [512, 64],
    ] as const) {
      const env = { ...process.env, NODE_OPTIONS: `--max-old-space-size=${heap}` } as NodeJS.ProcessEnv;
      if (budget !== undefined) env.MMUTRACE_MEMORY_BUDGET_MB = String(budget);
      else delete env.MMUTRACE_MEMORY_BUDGET_MB;
      const r = spawnSync(process.execPath, [cli, 'run', program], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr).not.toMatch(/heap out of memory|FATAL ERROR|    at /);
      const lines = r.stderr.split('\n').filter((l) => l.includes('memory budget'));
      if (budget !== undefined || r.status !== 0) {
        expect(r.status, r.stderr).toBe(2);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^${program.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:1: error: the memory budget of ${budget ?? '\\d+'} MB`));
      } else {
        expect(r.stdout).toMatch(/60000 events/);
      }
    }
  }, 60_000);
});
