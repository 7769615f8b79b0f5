// The adapter's framing on stdio under hostile bytes (issue 17, items 9 and
// 10): dist/adapter.js as a child process written raw bytes; after each bad
// frame it says why on stderr and in an output event, and goes on answering.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { ADAPTER } from './helpers';

interface Msg {
  type: string;
  request_seq?: number;
  success?: boolean;
  event?: string;
  body?: { output?: string; threads?: unknown[] };
}

class Raw {
  readonly child: ChildProcessWithoutNullStreams;
  readonly msgs: Msg[] = [];
  stderr = '';
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  constructor() {
    this.child = spawn(process.execPath, [ADAPTER]);
    this.child.stdout.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const h = this.buf.indexOf('\r\n\r\n');
        if (h < 0) break;
        const len = Number(/Content-Length: (\d+)/.exec(this.buf.subarray(0, h).toString())![1]);
        if (this.buf.length < h + 4 + len) break;
        this.msgs.push(JSON.parse(this.buf.subarray(h + 4, h + 4 + len).toString()) as Msg);
        this.buf = this.buf.subarray(h + 4 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }
  write(b: string | Buffer): void {
    this.child.stdin.write(b);
  }
  frame(obj: unknown): string {
    const body = JSON.stringify(obj);
    return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }
  /** The response to `seq`, waiting for it (undefined if the adapter exits first). */
  async response(seq: number): Promise<Msg | undefined> {
    for (;;) {
      const m = this.msgs.find((x) => x.type === 'response' && x.request_seq === seq);
      if (m) return m;
      if (this.child.exitCode !== null) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async threads(seq: number): Promise<Msg | undefined> {
    this.write(this.frame({ seq, type: 'request', command: 'threads' }));
    return this.response(seq);
  }
  outputs(): string[] {
    return this.msgs.filter((m) => m.event === 'output').map((m) => m.body!.output!);
  }
}

let a: Raw;
afterEach(() => {
  a.child.kill();
});

describe('hostile framing on stdio', () => {
  test.each([
    ['Content-Length: abc', 'Content-Length: abc\r\n\r\n{}', /bad header `Content-Length: abc`/],
    ['a body of `null`', 'Content-Length: 4\r\n\r\nnull', /not a JSON object \(null\)/],
    ['a body of `not json`', 'Content-Length: 8\r\n\r\nnot json', /not JSON/],
    ['a length over the cap', 'Content-Length: 999999999999\r\n\r\n{', /999999999999 bytes, over the limit of 67108864 bytes/],
    ['a body that is not a request', 'Content-Length: 2\r\n\r\n{}', /type null, not a request/],
    ['bytes that are no frame', 'hello\r\n', /skipped 7 bytes before a Content-Length header/],
  ])('%s: said on stderr and in an output event; the next request is answered', async (_name, bytes, said) => {
    a = new Raw();
    a.write(bytes);
    const r = await a.threads(1);
    expect(r?.success).toBe(true);
    expect(a.stderr).toMatch(said);
    expect(a.outputs().some((o) => said.test(o))).toBe(true);
    // Still alive for more: a second request.
    expect((await a.threads(2))?.success).toBe(true);
    a.child.stdin.end();
    const code = await new Promise<number | null>((r2) => (a.child.exitCode !== null ? r2(a.child.exitCode) : a.child.on('exit', r2)));
    expect(code).toBe(0);
  });

  test('a lowercase header and LF-only line ends are read', async () => {
    a = new Raw();
    const b1 = JSON.stringify({ seq: 1, type: 'request', command: 'threads' });
    const b2 = JSON.stringify({ seq: 2, type: 'request', command: 'threads' });
    a.write(`content-length: ${b1.length}\r\n\r\n${b1}Content-Length: ${b2.length}\n\n${b2}`);
    expect((await a.response(1))?.success).toBe(true);
    expect((await a.response(2))?.success).toBe(true);
    expect(a.stderr).toBe('');
  });

  test('a message cut into one-byte chunks, then two in one chunk', async () => {
    a = new Raw();
    const f = Buffer.from(a.frame({ seq: 1, type: 'request', command: 'threads' }));
    for (let i = 0; i < f.length; i++) a.write(f.subarray(i, i + 1));
    expect((await a.response(1))?.success).toBe(true);
    a.write(a.frame({ seq: 2, type: 'request', command: 'threads' }) + a.frame({ seq: 3, type: 'request', command: 'threads' }));
    expect((await a.response(3))?.success).toBe(true);
    expect((await a.response(2))?.success).toBe(true);
  });
});

describe('caps on option lists (17.9)', () => {
  test('200,000 exception filter options and 10,001 breakpoints are refused at once, naming the cap', async () => {
    a = new Raw();
    const filterOptions = Array.from({ length: 200_000 }, () => ({ filterId: 'vmexit', condition: 'exits.total > 1' }));
    a.write(a.frame({ seq: 1, type: 'request', command: 'setExceptionBreakpoints', arguments: { filters: [], filterOptions } }));
    const r = (await a.response(1)) as Msg & { message?: string };
    expect(r.success).toBe(false);
    expect(r.message).toBe('too many exception filters: 0 in `filters` and 200000 in `filterOptions`, at most 1000 in all (there are 7 filters)');
    const breakpoints = Array.from({ length: 10_001 }, (_, i) => ({ line: i + 1 }));
    a.write(a.frame({ seq: 2, type: 'request', command: 'setBreakpoints', arguments: { source: { path: '/x.mmutrace' }, breakpoints } }));
    const r2 = (await a.response(2)) as Msg & { message?: string };
    expect(r2.success).toBe(false);
    expect(r2.message).toBe('too many breakpoints: 10001 in one request, at most 10000');
  });
});
