// The debugger's file source (src/debug/filesource.ts): a trace read in
// 64 KiB pieces through the streaming parser gives the program the whole
// text gives; what it reports about errors (the first one and those within
// 1 MiB after it, then a note), about a file that is not UTF-8, and the
// index of parser states it keeps.
import { execFileSync } from 'node:child_process';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DEBUG_MAX_BYTES, INDEX_EVERY, openFileSource, type FileSource } from '../../src/debug/filesource';
import { TextSource, type TraceSource } from '../../src/debug/source';
import { Op, type Rows } from '../../src/trace';
import { bigTrace } from './gen';
import { writeTemp } from './helpers';

function drain(s: TraceSource): void {
  while (!s.done && !s.hasErrors) s.parseMore(5000);
  if (s.done) s.finish();
}

function rows(t: Rows): string[] {
  const out: string[] = [];
  for (let r = 0; r < t.count; r++) out.push(`${t.opOf(r)} ${t.lineOf(r)} ${t.opOf(r) <= Op.Invlpg || t.opOf(r) === Op.Cr3 ? t.addrOf(r) : t.argOf(r)} ${t.value(r)}`);
  return out;
}

describe('the file source', () => {
  test('gives the rows, labels and line count of the whole text, and an index every INDEX_EVERY lines', async () => {
    const text = bigTrace({ events: 140_000, seed: 9 }).replace(/\n(read 0x[0-9a-f]+)\n/, '\n$1 @first\n');
    const file = writeTemp('fs-same.mmutrace', text);
    const f = (await openFileSource(file)) as FileSource;
    const t = new TextSource(text);
    drain(f);
    drain(t);
    expect(f.hasErrors).toBe(false);
    expect(f.program.lineCount).toBe(t.program.lineCount);
    expect(f.program.events.count).toBe(t.program.events.count);
    expect(rows(f.program.events)).toEqual(rows(t.program.events));
    expect([...f.program.labels]).toEqual([...t.program.labels]);
    expect(f.program.labels.size).toBe(1);
    // One saved state at the start of each line 1 + k × INDEX_EVERY, with that line's byte offset.
    const lines = text.split('\n');
    // (MMUTRACE_INDEX_EVERY may set smaller windows for a run of the tests.)
    expect(f.every).toBe(Number(process.env.MMUTRACE_INDEX_EVERY) || INDEX_EVERY);
    expect(f.index.length).toBe(Math.floor((lines.length - 1) / f.every));
    for (const st of f.index) {
      expect(st.line % f.every).toBe(0);
      expect(st.byteOffset).toBe(Buffer.byteLength(lines.slice(0, st.line).join('\n')) + 1);
    }
    f.close();
  });

  test('an error far into a large file: the first error and those within 1 MiB after it, then a note', async () => {
    // Two bad lines, then 3 MB of good ones, then another bad line that is not reported.
    const head = bigTrace({ events: 10_000, seed: 2 });
    const tail = bigTrace({ events: 120_000, seed: 3 }).split('\n').filter((l) => /^(read|write)/.test(l)).join('\n');
    const text = `${head}raed 0x1000\nread 0x1000 @\n${tail}\nbogus line\n`;
    const file = writeTemp('fs-late.mmutrace', text);
    const badLine = head.split('\n').length;
    const f = await openFileSource(file);
    drain(f);
    expect(f.hasErrors).toBe(true);
    const r = f.failure();
    expect(r.message).toBeUndefined();
    expect(r.diagnostics.map((d) => d.line)).toEqual([badLine, badLine + 1]);
    expect(r.note).toMatch(/^\(the rest of the file, after line \d+, was not checked: `mmutrace check .*fs-late\.mmutrace` lists every error\)$/);
    f.close();
  });

  test('a small file with errors: every diagnostic, no note', async () => {
    const file = writeTemp('fs-small.mmutrace', 'mode 64\nspace a\nmap 0x1000 = 0x2000 P W\nread 0x1000\nraed 0x1000\nread 0x1000 @\n');
    const f = await openFileSource(file);
    drain(f);
    const r = f.failure();
    expect(r.diagnostics.map((d) => d.line)).toEqual([5, 6]);
    expect(r.note).toBeUndefined();
    f.close();
  });

  test('a byte that is not UTF-8: the reader\'s message at its line and column', async () => {
    const file = writeTemp('fs-bad-utf8.mmutrace', '');
    writeFileSync(file, Buffer.concat([Buffer.from('mode 64\nspace a\nmap 0x1000 = 0x2000 P W\nread 0x1000 # caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    const f = await openFileSource(file);
    drain(f);
    expect(f.hasErrors).toBe(true);
    expect(f.failure().message).toBe(`${file}:4:18: error: the file is not valid UTF-8: byte 0xe9 (save it as UTF-8)`);
    f.close();
  });

  test('what cannot be read is refused when it is opened', async () => {
    await expect(openFileSource('/dev/zero')).rejects.toThrow('it is a device, not a trace file');
    await expect(openFileSource('/no/such/file.mmutrace')).rejects.toThrow('no such file');
    // A FIFO without a writer: refused at once, never waited on.
    const fifo = writeTemp('fs-fifo.mmutrace', '');
    rmSync(fifo);
    execFileSync('mkfifo', [fifo]);
    try {
      await expect(openFileSource(fifo)).rejects.toThrow('it is a FIFO (named pipe): only regular files can be debugged');
    } finally {
      rmSync(fifo, { force: true });
    }
    // A file over the debugger's cap (sparse: it takes no room on the disk).
    const big = writeTemp('fs-over-cap.mmutrace', '');
    truncateSync(big, DEBUG_MAX_BYTES + 1);
    try {
      await expect(openFileSource(big)).rejects.toThrow('it is larger than 4096 MiB (the limit of a trace file)');
    } finally {
      rmSync(big, { force: true });
    }
  });
});
