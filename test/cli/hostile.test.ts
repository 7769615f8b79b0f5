// Hostile input at the command's edges (issue 17 items 1, 4, 5, 6, 11, 12, 13;
// issue 14 item 4): devices, pipes and files past the cap, a closed or full
// stdout, setup caps over the whole setup, every diagnostic as
// FILE:LINE:COL: error: MSG on its own file. In-process through main() where
// the streams do not matter, as a real process (bin/mmutrace.js) where they do.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import { MAX_TRACE_BYTES, TraceReadError, firstBadUtf8, readTraceSync } from '../../src/io/read';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mmutrace.js');
const demand = join(root, 'examples', 'demand-fault.mmutrace');

function run(...argv: string[]): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const dir = mkdtempSync(join(tmpdir(), 'mmutrace-hostile-'));
let n = 0;
function tmpFile(text: string | Buffer, name = `t${n++}.mmutrace`): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** Runs the installed command through a shell (for pipes and redirections); never a stack trace. */
function sh(script: string, timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout, env: { ...process.env, M: `${process.execPath} ${bin}` } });
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('reading: devices, pipes, the cap (17.1, 14.4)', () => {
  it('refuses a device before reading it', () => {
    const r = run('run', '/dev/zero');
    expect(r.code).toBe(2);
    expect(r.err).toBe('/dev/zero:1:1: error: cannot read: it is a device, not a trace file');
  });

  it('refuses a directory', () => {
    const r = run('run', dir);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${dir}:1:1: error: cannot read: it is a directory`);
  });

  it('reads a pipe up to the cap and stops there (a pipe reports no size)', () => {
    // The whole-file reader (the debugger's, the language server's): `yes` writes without end into a FIFO,
    // the reader counts and stops past the cap; the writer then gets EPIPE. The command streams without a
    // cap since issue 13; its endless inputs are in stream.test.ts.
    const fifo = join(dir, `fifo${n++}`);
    spawnSync('mkfifo', [fifo]);
    const writer = spawn('bash', ['-c', `yes "read 0x1000" > ${fifo}`], { stdio: 'ignore' });
    try {
      expect(() => readTraceSync(fifo, { maxBytes: 3 << 20, allowPipes: true })).toThrow('it is larger than 3 MiB (the limit of a trace file)');
    } finally {
      writer.kill();
    }
    // Without allowPipes (the adapter) it is refused before it is opened, so nothing blocks.
    expect(() => readTraceSync(fifo)).toThrow('it is a FIFO (named pipe)');
  });

  it('reads a short pipe whole', () => {
    const r = sh(`cat ${demand} | $M run /dev/stdin; echo "rc=$?"`);
    expect(r.stdout).toContain('/dev/stdin: 4 events, mode 64');
    expect(r.stdout.trim().endsWith('rc=0')).toBe(true);
  });

  it('counts the bytes it reads, whatever size the file reports, and stops one past the cap', () => {
    const f = tmpFile('read 0x1000\n'.repeat(100));
    expect(readTraceSync(f, { maxBytes: 1200 }).text.length).toBe(1200);
    expect(() => readTraceSync(f, { maxBytes: 1199 })).toThrow(TraceReadError);
    expect(() => readTraceSync(f, { maxBytes: 1199 })).toThrow('it is larger than 1199 bytes (the limit of a trace file)');
    // /proc files report a size of 0 and are read by counting.
    if (existsSync('/proc/self/status')) expect(() => readTraceSync('/proc/self/status', { maxBytes: 10 })).toThrow('larger than 10 bytes');
  });

  it('the cap is below the longest string V8 makes, so every file past it gets our message', () => {
    expect(MAX_TRACE_BYTES).toBeLessThan(2 ** 29 - 24);
  });
});

describe('output that fails (17.4)', () => {
  it('a reader that goes away (EPIPE) ends the output quietly, with the status of the command', () => {
    // The fifo's reader opens and closes at once; the command then writes into a pipe without a reader.
    const fifo = join(dir, `fifo${n++}`);
    const r = sh(`mkfifo ${fifo}; (exec 0<${fifo}) & $M check ${demand} ${demand} ${demand} > ${fifo}; echo "rc=$?"; wait`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('rc=0');
    const r2 = sh(`$M run ${demand} | head -c 1; echo; echo "rc=\${PIPESTATUS[0]}"`);
    expect(r2.stderr).toBe('');
    expect(r2.stdout.trim().split('\n').at(-1)).toBe('rc=0');
  });

  it('a full disk (ENOSPC) is one line and exit 2', () => {
    if (!existsSync('/dev/full')) return;
    const r = sh(`$M run ${demand} > /dev/full; echo "rc=$?"`);
    expect(r.stderr).toBe('mmutrace: cannot write to stdout: no space left on device\n');
    expect(r.stdout.trim()).toBe('rc=2');
  });
});

describe('the setup cap covers the whole setup (17.5)', () => {
  it('100 spaces each mapping 4 GiB stop at the fourth with a diagnostic on its line', () => {
    // 1,048,576 entries a line; three lines are 3,145,728, the fourth would pass 4,000,000.
    const lines = ['mode 64'];
    for (let i = 0; i < 100; i++) lines.push(`space s${i}`, 'map 0..0x100000000 = 0 P W U A');
    lines.push('read 0');
    const f = tmpFile(lines.join('\n') + '\n');
    const r = run('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${f}:9:1: error: the setup's \`map\` lines write 3145728 entries before this one and it writes 1048576: at most 4000000 in the whole setup`);
  }, 60_000);
});

describe('one diagnostic format, on its own file (17.6)', () => {
  const pool32 = tmpFile('mode 32\npool 0xfffff000\nspace a\nspace b\nread 0\n');
  const bogus = tmpFile('mode 64\npolicy bogus\nspace a\nread 0\n');
  const large = tmpFile('mode 64\nspace a\nmap 0 L2 = 0 P W PS\nmap 0x1000 = 0 P\nread 0\n');
  it('setup errors as FILE:LINE:COL: error: MSG', () => {
    // The pool's one page below 2^32 goes to `a`; `b` on line 4 finds none.
    expect(run('run', pool32).err).toBe(`${pool32}:4:1: error: the page-table pool ran past the guest-physical limit (0x100000000)`);
    expect(run('run', large).err).toBe(`${large}:4:1: error: the L2 entry for 0x1000 maps a large page: there is no L1 table to map into`);
    const r = run('run', bogus);
    expect(r.code).toBe(2);
    expect(r.err.split('\n').at(-1)).toMatch(new RegExp(`^${bogus.replace(/[.]/g, '\\.')}:2:1: error: unknown policy \`bogus\``));
  });

  it('check blames each file for its own errors and goes on to the next', () => {
    const r = run('check', pool32, demand, large, bogus, demand);
    expect(r.code).toBe(2);
    const errs = r.err.split('\n').filter((l) => l.includes(': error: '));
    expect(errs.map((l) => l.slice(0, l.indexOf(':')))).toEqual([pool32, large, bogus]);
    expect(r.out.split('\n')).toEqual([`${demand}: ok (update)`, `${demand}: ok (update)`]);
  });

  it('a file that cannot be read is a diagnostic at 1:1 and check goes on', () => {
    const r = run('check', join(dir, 'missing.mmutrace'), demand);
    expect(r.err).toBe(`${join(dir, 'missing.mmutrace')}:1:1: error: cannot read: no such file`);
    expect(r.out).toBe(`${demand}: ok (update)`);
  });
});

describe('frames that overflow the frame field (17.11)', () => {
  it('mode 64: a range whose last frame passes bit 51 is an error (it would set NX)', () => {
    const f = tmpFile('mode 64\nspace a\nmap 0..0x2000 = 0x7ffffffffffff000 P W U A\nread 0\n');
    const r = run('run', f);
    expect(r.code).toBe(2);
    // Frame field bits 12..51: 0xffffffffff000 + 0x1000 carries out of it.
    expect(r.err).toBe(`${f}:3:5: error: the range's frames overflow the frame field: its last page would need frame address 0x10000000000000, above the highest, 0xffffffffff000`);
  });
  it('mode 32: a range whose frames pass 4 GiB is an error (it would wrap to 0)', () => {
    const f = tmpFile('mode 32\nspace a\nmap 0..0x2000 = 0xfffff000 P W U A\nread 0\n');
    expect(run('run', f).err).toBe(`${f}:3:5: error: the range's frames overflow the frame field: its last page would need frame address 0x100000000, above the highest, 0xfffff000`);
  });
  it('a range that ends exactly at the top frame is fine', () => {
    const f = tmpFile('mode 32\nspace a\nmap 0..0x2000 = 0xffffe000 P W U A\nread 0\nexpect gpte(0x1000) == 0xfffff027\n');
    expect(run('check', f)).toMatchObject({ code: 0, err: '' });
  });
});

describe('messages (17.12)', () => {
  it('gpa(-1) says the address is negative, not 0x-1', () => {
    const f = tmpFile('mode 64\nspace a\nread 0\nexpect gpa(-1) == 0\n');
    const r = run('check', f);
    expect(r.code).toBe(1);
    expect(r.err).toContain('gpa: address -1 is negative');
    expect(r.err).not.toContain('0x-');
  });

  it('invalid UTF-8, even in a comment, is an error at its place', () => {
    const f = tmpFile(Buffer.concat([Buffer.from('mode 64\nspace a\n# caf'), Buffer.from([0xe9]), Buffer.from('\nread 0\n')]));
    const r = run('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${f}:3:6: error: the file is not valid UTF-8: byte 0xe9 (save it as UTF-8)`);
    expect(firstBadUtf8(Buffer.from('ok é 😀\n\xff', 'latin1'))).toMatchObject({ line: 1, col: 4 });
    expect(firstBadUtf8(Buffer.from('ok é 😀\n'))).toBeUndefined();
    expect(firstBadUtf8(Buffer.from([0x61, 0x0a, 0xed, 0xa0, 0x80]))).toEqual({ line: 2, col: 1, byte: 0xed }); // a UTF-8 surrogate
  });

  it('invisible and bidi characters are escaped in messages', () => {
    const f = tmpFile('mode 64\nspace a\nread\u00a00\nread \u202e0\n');
    const r = run('run', f);
    expect(r.err.split('\n')).toEqual([
      `${f}:3:5: error: expected an address after \`read\`, found \`\\u{00A0}\``,
      `${f}:4:6: error: expected an address after \`read\`, found \`\\u{202E}\``,
    ]);
  });

  it('a file with CR-only line ends gets a diagnostic that says so', () => {
    const f = tmpFile('mode 64\rspace a\rread 0\r');
    const r = run('run', f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${f}:1:8: error: a lone carriage return (CR) is not a line end: the lines of a trace end with LF or CRLF (save the file with LF or CRLF line ends)`);
  });
});

describe('usage (17.13)', () => {
  it('an empty --policy= or --policies= is a usage error', () => {
    for (const argv of [['run', demand, '--policy='], ['compare', demand, '--policies=']]) {
      const r = run(...argv);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toBe(`mmutrace: ${argv[2]!.slice(0, -1)} needs a value`);
    }
  });
});

describe('the adapter refuses what could block it (17.1, 14.4)', () => {
  it('a FIFO without a writer: the command reads it as empty after a moment instead of waiting forever (found by the fuzz command)', () => {
    const fifo = join(dir, `fifo${n++}`);
    spawnSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [bin, 'run', fifo], { encoding: 'utf8', timeout: 15_000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('0 events');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('a FIFO without a writer: launch answers an error at once and the adapter ends with stdin', async () => {
    const fifo = join(dir, `fifo${n++}`);
    spawnSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [join(root, 'dist', 'adapter.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const send = (seq: number, command: string, args: object): void => {
      const body = JSON.stringify({ seq, type: 'request', command, arguments: args });
      child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    send(1, 'initialize', { adapterID: 'mmutrace' });
    for (const [seq, program] of [[2, fifo], [3, '/dev/zero']] as const) {
      send(seq, 'launch', { program });
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (out.includes(`"request_seq":${seq}`)) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
    }
    expect(out).toMatch(/"request_seq":2,"command":"launch","success":false[^]*it is a FIFO \(named pipe\): only regular files can be debugged/);
    expect(out).toMatch(/"request_seq":3,"command":"launch","success":false[^]*it is a device, not a trace file/);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdin.end();
    expect(await exited).not.toBeNull();
  }, 30_000);
});
