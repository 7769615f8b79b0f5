// The streaming parser (src/trace/stream.ts) against the whole-text one: any
// chunking of a trace's bytes (boundaries inside lines, inside CRLF, inside
// multi-byte characters) gives the same rows, labels, expects, setup and
// diagnostics as decoding the whole file (src/io/read.ts) and parsing it
// (parseTrace); a parser resumed from a saved state gives the rows and
// diagnostics of the lines after it.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeTrace } from '../../src/io/read';
import { EventTable, MAX_LINE_LENGTH, parseTrace, type Diagnostic, type EventRow } from '../../src/trace';
import { TraceStream, type ParserState } from '../../src/trace/stream';

interface Parsed {
  rows: EventRow[];
  labels: [string, number][];
  expects: [number, string, number, number][];
  diagnostics: Diagnostic[];
  badUtf8: unknown;
  hasErrors: boolean;
  lineCount: number;
  setup: unknown;
}

function tableRows(t: EventTable): EventRow[] {
  const out: EventRow[] = [];
  for (let i = 0; i < t.count; i++) out.push(t.row(i));
  return out;
}

/** The whole file decoded and parsed at once (what the command did before streaming). */
function whole(bytes: Buffer): Parsed {
  const d = decodeTrace([bytes]);
  const r = parseTrace(d.text);
  const p = r.program;
  return {
    rows: tableRows(p.events),
    labels: [...p.labels].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)),
    expects: tableRows(p.events).flatMap((row, i) => (row.op === 9 ? [[i, p.expects[row.arg]!.source, p.expects[row.arg]!.line, p.expects[row.arg]!.exprRange.col] as [number, string, number, number]] : [])),
    diagnostics: r.diagnostics,
    badUtf8: d.badUtf8,
    hasErrors: r.hasErrors,
    lineCount: p.lineCount,
    setup: setupOf(p),
  };
}

function setupOf(p: { mode: unknown; vcpus: unknown; cpl: unknown; pool: unknown; shadowPages: unknown; spaces: unknown; setup: unknown; policy?: unknown }): unknown {
  return { mode: p.mode, vcpus: p.vcpus, cpl: p.cpl, pool: p.pool, shadowPages: p.shadowPages, spaces: p.spaces, setup: p.setup, policy: p.policy };
}

/** Feeds the bytes to a stream (resumed from `state` when given) in the chunks that `cuts` make; gathers everything it gives. */
function streamed(bytes: Buffer, cuts: number[], state?: ParserState, onCheckpoint?: (s: ParserState) => void, every = 0, window?: number): Parsed {
  const s = state ? TraceStream.resume(state, { window }) : new TraceStream({ checkpointEvery: every, onCheckpoint, window });
  const rows: EventRow[] = [];
  const labels: [string, number][] = [];
  const expects: [number, string, number, number][] = [];
  const diagnostics: Diagnostic[] = [];
  let setup: unknown;
  const takeRows = (): void => {
    const b = s.take();
    if (s.setupReady && setup === undefined) setup = setupOf(s.setup);
    if (!b) return;
    expect(b.firstRow).toBe((state?.row ?? 0) + rows.length);
    const rs = tableRows(b.events);
    rs.forEach((row, k) => {
      if (row.op === 9) {
        const e = b.expects[row.arg]!;
        expects.push([b.firstRow + k, e.source, e.line, e.exprRange.col]);
      }
    });
    rows.push(...rs);
    for (const [n, r] of b.labels) labels.push([n, b.firstRow + r]);
  };
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    const end = Math.min(Math.max(c, at), bytes.length);
    // A copy in a buffer that is then overwritten: the stream must not keep the caller's bytes.
    const chunk = Buffer.from(bytes.subarray(at, end));
    s.push(chunk);
    chunk.fill(0x41);
    takeRows();
    diagnostics.push(...s.takeDiagnostics());
    at = end;
  }
  s.end();
  takeRows();
  const r = s.finish();
  diagnostics.push(...r.diagnostics);
  if (setup === undefined) setup = setupOf(s.setup);
  return {
    rows: rows.map((row) => (row.op === 9 ? { ...row, arg: 0 } : row)),
    labels: labels.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)),
    expects,
    diagnostics,
    badUtf8: r.badUtf8,
    hasErrors: r.hasErrors,
    lineCount: r.lineCount,
    setup,
  };
}

/** The whole parse with expect rows' arg zeroed (a batch indexes its own expects). */
function wholeCmp(bytes: Buffer): Parsed {
  const w = whole(bytes);
  return { ...w, rows: w.rows.map((row) => (row.op === 9 ? { ...row, arg: 0 } : row)), hasErrors: w.hasErrors || w.badUtf8 !== undefined };
}

const SETUP = ['mode 32', 'mode pae', 'vcpus 2', 'space a', 'space b', 'map 0x1000 = 0x5000 P W U', 'map 0x400000 L2 = 0x400000 P PS', 'poke 0x5000 = 7', 'pool 0x20000000', 'policy zap', 'cpl kernel', 'shadow-pages 16', 'mode 64', 'space a'];
const EVENTS = [
  'read 0x1000',
  'write 0x2000 = 0xff',
  'exec 0x1000 user',
  'pte 0x1000 = 0x6000 P W',
  'store 0x5000 = 1 size 4',
  'cr3 a',
  'cr3 b',
  'cr3 0x7000',
  'invlpg 0x1000',
  'vcpu 1',
  'cpl user',
  'expect exits.total >= 0',
  'expect "a # b" == "a # b" # c',
  'read 0x1000 @l1',
  'read 0x2000 @l2',
  'read 0x1000 @l1',
  'read 0x1000 # é ü ✓ 😀',
  'read 0x1000 é',
  'write 0x1000 😀',
  'bogus 0x1',
  'read 0xzz',
  'map 0x1000 = 0',
  '  ',
  '',
  '# comment',
  'READ 0X1F',
  'read\r0x1000',
  'read 0x1000\rread 0x2000',
  'pte 0x1000 L9 = 0',
];

const lineArb = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...SETUP) }, { weight: 4, arbitrary: fc.constantFrom(...EVENTS) });
const endArb = fc.constantFrom('\n', '\n', '\r\n', '\r\r\n', '\r');
const textArb = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(lineArb, endArb), { maxLength: 30 }), fc.constantFrom('', 'read 0x1000', 'read 0x1000\r', 'é'))
  .map(([bom, ls, last]) => (bom ? '\uFEFF' : '') + ls.map(([l, e]) => l + e).join('') + last);

/** Bytes of a text, sometimes with a few bytes that are not UTF-8 put in. */
const bytesArb = fc
  .tuple(textArb, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0xff, 0x80, 0xc3, 0xe2, 0xf0, 0xed, 0xc0)), { maxLength: 2 }), fc.boolean())
  .map(([t, bad, useBad]) => {
    const b = Buffer.from(t, 'utf8');
    if (!useBad || bad.length === 0 || b.length === 0) return b;
    const arr = [...b];
    for (const [at, byte] of bad) arr.splice(at % (arr.length + 1), 0, byte);
    return Buffer.from(arr);
  });

const cutsArb = (n: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max: Math.max(n, 0) }), { maxLength: 12 }).map((c) => c.sort((a, b) => a - b));

describe('the streaming parser gives what the whole-text parser gives', () => {
  test('any chunking (property: boundaries inside lines, CRLF and multi-byte characters; invalid bytes)', () => {
    fc.assert(
      fc.property(
        bytesArb.chain((b) => fc.tuple(fc.constant(b), cutsArb(b.length), fc.option(fc.integer({ min: 1, max: 80 })))),
        ([bytes, cuts, window]) => {
          expect(streamed(bytes, cuts, undefined, undefined, 0, window ?? undefined)).toEqual(wholeCmp(bytes));
        },
      ),
      { numRuns: 600 },
    );
  });

  test('every byte boundary, one byte at a time and cut at each position, on a trace with every kind of line', () => {
    const text = '\uFEFF' + SETUP.slice(3, 9).join('\n') + '\n' + EVENTS.join('\r\n') + '\nread 0x1000 # 😀é\r\nread 0x1000';
    const bytes = Buffer.from(text, 'utf8');
    const want = wholeCmp(bytes);
    const ones = [...Array(bytes.length).keys()];
    expect(streamed(bytes, ones)).toEqual(want);
    for (let c = 0; c <= bytes.length; c += 3) expect(streamed(bytes, [c])).toEqual(want);
  });

  test('lines longer than MAX_LINE_LENGTH (not kept in memory) get the same diagnostics, whatever the chunks', () => {
    const long = 'x'.repeat(MAX_LINE_LENGTH + 10);
    const cases = [
      `read 0x1000\nread ${long}\r\nread 0x2000\n`,
      `read 0x1000\n   # ${long}\nread 0x2000`,
      `   ${' '.repeat(MAX_LINE_LENGTH + 5)}\nread 0x1000\n`,
      `${' '.repeat(MAX_LINE_LENGTH + 5)}read 0x1000\r\nread 0x1\rread 0x2\n`,
      `read 0x1 ${'\r'.repeat(3)}x${long}\nread 0x1\rread 0x2\n`,
      `read 0x1 ${long}\rx\nread 0x1\rread 0x2\n`,
      `read ${long}é\r`,
      `read ${long}\r`,
      `${'é'.repeat(MAX_LINE_LENGTH + 1)}\nread 0x1\n`,
      `${'x'.repeat(MAX_LINE_LENGTH)}\n${'x'.repeat(MAX_LINE_LENGTH + 1)}\n${'x'.repeat(MAX_LINE_LENGTH + 2)}\r\n${'x'.repeat(MAX_LINE_LENGTH + 3)}\n`,
    ];
    for (const t of cases) {
      const bytes = Buffer.from(t, 'utf8');
      const want = wholeCmp(bytes);
      for (const cuts of [[], [7], [MAX_LINE_LENGTH + 3], [1000, 70_000, 100_005, 100_013], [bytes.length - 2]]) {
        expect(streamed(bytes, cuts), `${JSON.stringify(t.slice(0, 20))} cut at ${cuts}`).toEqual(want);
        expect(streamed(bytes, cuts, undefined, undefined, 0, 5000), `${JSON.stringify(t.slice(0, 20))} cut at ${cuts}, small windows`).toEqual(want);
      }
    }
  });

  test('invalid UTF-8 at a chunk boundary is placed as the whole-file reader places it', () => {
    const cases = [Buffer.from([0x72, 0xe2, 0x82]), Buffer.from('read 0x1\né\xe2\x82\n', 'latin1'), Buffer.concat([Buffer.from('\uFEFF', 'utf8'), Buffer.from([0xff])]), Buffer.from([0xef, 0xbb])];
    for (const b of cases) {
      const want = wholeCmp(b);
      for (let c = 0; c <= b.length; c++) expect(streamed(b, [c])).toEqual(want);
    }
  });
});

describe('resuming at a line boundary', () => {
  test('a parser resumed from a saved state gives the rows and diagnostics of the lines after it (property)', () => {
    fc.assert(
      fc.property(
        bytesArb.chain((b) => fc.tuple(fc.constant(b), cutsArb(b.length), cutsArb(b.length), fc.integer({ min: 1, max: 7 }), fc.nat(), fc.integer({ min: 1, max: 60 }))),
        ([bytes, cuts, cuts2, every, pick, window]) => {
          const states: ParserState[] = [];
          const full = streamed(bytes, cuts, undefined, (s) => states.push(s), every, window);
          // The checkpoints do not change what is parsed.
          expect(full).toEqual(wholeCmp(bytes));
          // One every `every` lines, up to the end or (none past it) the first byte that is not UTF-8.
          expect(states.map((s) => s.line)).toEqual(states.map((_, i) => (i + 1) * every));
          const bad = full.badUtf8 as { line: number } | undefined;
          const last = bad ? Math.min(bad.line - 1, full.lineCount) : full.lineCount;
          expect(states.length).toBe(Math.max(0, Math.floor(last / every)));
          if (states.length === 0) return;
          const st = states[pick % states.length]!;
          const rest = bytes.subarray(st.byteOffset);
          const r = streamed(rest, cuts2.map((c) => c % (rest.length + 1)).sort((a, b) => a - b), st, undefined, 0, window);
          expect(r.rows).toEqual(full.rows.slice(st.row));
          expect(r.labels).toEqual(full.labels.filter(([, row]) => row >= st.row));
          expect(r.expects).toEqual(full.expects.filter(([row]) => row >= st.row));
          expect(r.diagnostics).toEqual(full.diagnostics.filter((d) => d.line > st.line));
          expect(r.lineCount).toBe(full.lineCount);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('from every line of a trace with long lines (not kept) and multi-byte characters, whatever the chunks', () => {
    const long = 'é'.repeat(MAX_LINE_LENGTH + 3);
    const text = `space a\nread 0x1000 # ü\n# ${long}\r\nread ${long}\nread 0x2000 @x\r\n${' '.repeat(MAX_LINE_LENGTH + 7)}\nread 0x1000\rz\nbogus\nread 0x3000 @x\nread 0x4000`;
    const bytes = Buffer.from(text, 'utf8');
    for (const cuts of [[], [5, 100_003, 200_011], [bytes.length - 3]]) {
      const states: ParserState[] = [];
      const full = streamed(bytes, cuts, undefined, (s) => states.push(s), 1, 3000);
      expect(full).toEqual(wholeCmp(bytes));
      expect(states.map((s) => s.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      for (const st of states) {
        const r = streamed(bytes.subarray(st.byteOffset), [7], st, undefined, 0, 3000);
        expect(r.rows, `from line ${st.line + 1}`).toEqual(full.rows.slice(st.row));
        expect(r.labels).toEqual(full.labels.filter(([, row]) => row >= st.row));
        expect(r.diagnostics, `from line ${st.line + 1}`).toEqual(full.diagnostics.filter((d) => d.line > st.line));
      }
    }
  });
});
