// Line ends, BOM, tabs, NUL and garbage, long lines, the resumable parser,
// and properties over arbitrary and mutated input.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Op, TraceParser, parseTrace } from '../../src/trace';
import { at, clean, expectOne, lines, parse, parseSummary, rangesWithin, rows } from './helpers';

const SAMPLE = lines(
  '# a sample',
  'mode 64',
  'policy zap',
  'vcpus 2',
  'space init',
  'space other',
  'map 0x400000 = 0',
  'map 0x401000 = 0x201000 P W U A D',
  'map 0x600000..0x610000 = 0x300000 P W U A D',
  'poke 0x5000 = 0x1234 size 4',
  '',
  'read 0x401000 @start',
  'expect last.exits == 1',
  'write 0x401008 = 0xff size 1 kernel',
  'exec 0x401000 user',
  'pte 0x400000 = 0x200000 P W U A D size 4 offset 0',
  'store 0x5000 = 7 size 2',
  'cr3 other',
  'cr3 0x10001000',
  'invlpg 0x400000',
  'vcpu 1',
  'cpl kernel',
  'expect gpa(0x400000) == 0x200000',
);

describe('line ends, BOM, whitespace', () => {
  test('the sample parses cleanly', () => {
    const r = clean(SAMPLE);
    expect(r.program.events.count).toBe(12);
  });

  test('CRLF gives the same program and the same columns', () => {
    const crlf = SAMPLE.replace(/\n/g, '\r\n');
    expect(parseSummary(parse(crlf, { keepStatements: true }))).toEqual(parseSummary(parse(SAMPLE, { keepStatements: true })));
    const t = 'read 0x1000\r\nraed 0x2000\r\n';
    expectOne(t, 2, 'raed', 'unknown keyword');
  });

  test('mixed line ends', () => {
    const r = clean('read 0x1000\r\nread 0x2000\nread 0x3000\r\n');
    expect(rows(r).map((x) => [x.line, x.addr])).toEqual([
      [1, 0x1000],
      [2, 0x2000],
      [3, 0x3000],
    ]);
    expect(r.program.lineCount).toBe(3);
  });

  test('a BOM at the start is skipped and is not a column', () => {
    const t = '\uFEFFmode 32\nraed 0';
    const r = parse(t);
    expect(r.program.mode).toBe('32');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject(at(t, 2, 'raed'));
    const s = parse('\uFEFFmode pae', { keepStatements: true });
    expect(s.statements![0]!.keyword).toEqual({ line: 1, col: 1, endLine: 1, endCol: 5 });
    expect(parse('\uFEFF').program.lineCount).toBe(0);
  });

  test('a BOM elsewhere is an error, not whitespace', () => {
    expectOne('read 0x1000\n\uFEFFread 0', 2, '\uFEFF', ['expected a keyword', 'U+FEFF']);
  });

  test('tabs and other whitespace separate words', () => {
    const r = clean('\tmap\t0x1000 =\t0x2000\tP\n'.replace('map', 'space s\nmap'));
    expect(r.program.setup[1]).toMatchObject({ kind: 'map', va: 0x1000, pte: 0x2001n });
    expect(rows(clean('read\t0x1000\v\f  kernel\t'))[0]).toMatchObject({ addr: 0x1000, cpl: 'kernel' });
  });

  test('a CR before a line end is whitespace; a CR with text after it is an error that says so', () => {
    expect(rows(clean('read 0x1000\r\r\nread 0x2000\r'))).toHaveLength(2);
    // A file with classic Mac OS line ends: one line to the parser, named as such (issue 17.12).
    const r = parseTrace('mode 64\rspace a\rread 0x1000\r');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ line: 1, col: 8, severity: 'error' });
    expect(r.diagnostics[0]!.message).toContain('lone carriage return (CR) is not a line end');
    // Only the line with the CR is refused; the others parse.
    const r2 = parseTrace('read 0x1000\nread 0x2000\rkernel\nread 0x3000\n');
    expect(r2.diagnostics.map((d) => [d.line, d.col])).toEqual([[2, 12]]);
    expect(r2.program.events.count).toBe(2);
  });

  test('NUL bytes and control characters are errors, named', () => {
    expectOne('read 0x1000 \u0000', 1, '\u0000', 'unexpected character U+0000');
    expectOne('\u0000\u0001\u0002', 1, '\u0000', 'character U+0000');
    expectOne('read\u00000x1000', 1, '\u0000', 'found character U+0000');
  });

  test('non-ASCII text', () => {
    expectOne('read 0x1000 é', 1, 'é', 'unexpected `é`');
    expectOne('read 0x1000 😀', 1, '😀', 'unexpected `😀`');
    expectOne('réad 0x1000', 1, 'r', 'unknown keyword `r`');
  });

  test('a comment right after a token', () => {
    expect(rows(clean('read 0x1000#c'))[0]!.addr).toBe(0x1000);
    expect(rows(clean('read 0x1000 @l#c'))).toHaveLength(1);
  });
});

describe('long lines and garbage', () => {
  test('a 10 MB line is reported quickly without tokenizing it', () => {
    const t = 'read 0x1000\nread ' + '1'.repeat(10_000_000) + '\nread 0x2000\n';
    const t0 = performance.now();
    const r = parse(t);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ line: 2, col: 1, endLine: 2, endCol: 10_000_006, severity: 'error' });
    expect(r.diagnostics[0]!.message).toContain('the limit is 100000');
    expect(rows(r).map((x) => x.line)).toEqual([1, 3]);
  });

  test('a long comment line is fine', () => {
    clean('read 0x1000\n   # ' + 'x'.repeat(200_000) + '\nread 0');
  });

  test('a line just under the limit is tokenized', () => {
    const t = 'read 0x1000 # ' + 'y'.repeat(99_980);
    expect(t.length).toBeLessThanOrEqual(100_000);
    clean(t);
  });

  test('too many words on one line', () => {
    const t = 'pte 0 = 0x1000 ' + 'P '.repeat(100);
    const r = parse(t);
    expect(r.hasErrors).toBe(true);
    expect(r.diagnostics.some((d) => d.message.includes('too many words on one line'))).toBe(true);
    rangesWithin(t, r.diagnostics);
  });

  test('a 1 MB line of random bytes does not hang', () => {
    let s = '';
    let x = 12345;
    for (let i = 0; i < 1_000_000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      s += String.fromCharCode(x & 0xff);
    }
    const t0 = performance.now();
    const r = parse(s);
    expect(performance.now() - t0).toBeLessThan(3000);
    rangesWithin(s, r.diagnostics);
  });

  test('a long word is cut in messages', () => {
    const w = 'z'.repeat(1000);
    const d = expectOne(w, 1, w, 'unknown keyword');
    expect(d.message.length).toBeLessThan(100);
  });
});

describe('the resumable parser', () => {
  test('parses in chunks to the same result', () => {
    const p = new TraceParser(SAMPLE, { keepStatements: true });
    expect(p.totalLines).toBe(23);
    expect(p.linesParsed).toBe(0);
    expect(p.parseLines(12)).toBe(false);
    expect(p.linesParsed).toBe(12);
    const partial = p.result();
    expect(partial.program.events.count).toBe(1); // read 0x401000 on line 12
    expect(partial.program.labels.get('start')).toBe(0);
    expect(partial.program.lineCount).toBe(23);
    expect(p.parseLines(5)).toBe(false);
    expect(p.linesParsed).toBe(17);
    expect(p.parseLines(1000)).toBe(true);
    expect(p.linesParsed).toBe(23);
    expect(p.parseLines(10)).toBe(true);
    expect(parseSummary(p.result())).toEqual(parseSummary(parseTrace(SAMPLE, { keepStatements: true })));
    expect(p.result().program.events.op.length).toBe(p.result().program.events.count);
  });

  test('partial results do not change afterwards', () => {
    const p = new TraceParser(lines('raed 0', 'read 0', 'bogus'));
    p.parseLines(1);
    const first = p.result();
    p.parseLines(10);
    expect(first.diagnostics).toHaveLength(1);
    expect(p.result().diagnostics).toHaveLength(2);
  });

  test('empty text is done at once', () => {
    const p = new TraceParser('');
    expect(p.totalLines).toBe(0);
    expect(p.parseLines(1)).toBe(true);
    expect(p.result().program.lineCount).toBe(0);
  });

  test('chunked parsing equals one pass (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (chunks) => {
        const p = new TraceParser(SAMPLE + 'raed 0\nread 0x1ffc = 1\n');
        let i = 0;
        while (!p.parseLines(chunks[i++ % chunks.length]!));
        expect(parseSummary(p.result())).toEqual(parseSummary(parseTrace(SAMPLE + 'raed 0\nread 0x1ffc = 1\n')));
      }),
      { numRuns: 50 },
    );
  });
});

describe('properties', () => {
  const noThrow = (text: string): void => {
    const r = parseTrace(text, { keepStatements: true });
    rangesWithin(text, r.diagnostics);
    expect(r.hasErrors).toBe(r.diagnostics.some((d) => d.severity === 'error'));
    for (let i = 0; i < r.program.events.count; i++) {
      const line = r.program.events.lineOf(i);
      expect(line).toBeGreaterThanOrEqual(1);
      expect(line).toBeLessThanOrEqual(r.program.lineCount);
    }
  };

  test('arbitrary strings: never throws, ranges within the text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), noThrow), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), noThrow), { numRuns: 500 });
  });

  test('arbitrary bytes as latin1', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => noThrow(Buffer.from(b).toString('latin1'))),
      { numRuns: 300 },
    );
  });

  const words = [
    'mode', 'policy', 'vcpus', 'cpl', 'pool', 'shadow-pages', 'space', 'map', 'poke', 'read', 'write', 'exec', 'pte',
    'store', 'cr3', 'invlpg', 'vcpu', 'expect', 'user', 'kernel', 'size', 'offset', 'P', 'W', 'NX', 'PS', 'L1', 'L2',
    'L3', 'L4', '=', '..', '@x', '@', '#', '0x1000', '0', '8', '4k', '0xffff_8000_0000_0000', '0x1_0000_0000', '32',
    'pae', '64', 'init', '"', '(', '==', '\t', '\r', '\n', '\r\n', '\uFEFF', '\u0000', 'last.exits', '0b2', '0x',
  ];

  test('token soup: never throws, ranges within the text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 60 }), fc.array(fc.constantFrom(' ', '', '\n'), { maxLength: 60 }), (ws, seps) => {
        noThrow(ws.map((w, i) => w + (seps[i] ?? ' ')).join(''));
      }),
      { numRuns: 1000 },
    );
  });

  test('mutated valid traces: never throws, ranges within the text', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...words), fc.string({ unit: 'binary', maxLength: 4 })) }),
      fc.record({ kind: fc.constant('dupline' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), at2: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => {
        let t = SAMPLE;
        for (const m of ms) {
          const i = m.at % (t.length + 1);
          if (m.kind === 'delete') t = t.slice(0, i) + t.slice(i + m.len);
          else if (m.kind === 'insert') t = t.slice(0, i) + m.text + t.slice(i);
          else if (m.kind === 'dupline') {
            const ls = t.split('\n');
            const k = m.at % ls.length;
            ls.splice(k, 0, ls[k]!);
            t = ls.join('\n');
          } else {
            const ls = t.split('\n');
            const a = m.at % ls.length;
            const b = m.at2 % ls.length;
            [ls[a], ls[b]] = [ls[b]!, ls[a]!];
            t = ls.join('\n');
          }
        }
        noThrow(t);
      }),
      { numRuns: 1000 },
    );
  });

  test('a valid event line parses alone, and each row matches its statement', () => {
    const va = fc.integer({ min: 0, max: 2 ** 47 - 1 });
    const line = fc.oneof(
      fc.tuple(fc.constantFrom('read', 'exec'), va, fc.constantFrom('', ' user', ' kernel')).map(([k, a, c]) => ({
        text: `${k} 0x${a.toString(16)}${c}`,
        op: k === 'read' ? Op.Read : Op.Exec,
        addr: a,
        value: 0n,
      })),
      fc.tuple(va, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([a, v]) => ({
        text: `pte ${a} = 0x${v.toString(16)}`,
        op: Op.Pte,
        addr: a,
        value: v,
      })),
      fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([g, v]) => ({
        text: `store 0b${(g - (g % 8)).toString(2)} = ${v.toString(10)}`,
        op: Op.Store,
        addr: g - (g % 8),
        value: v,
      })),
    );
    fc.assert(
      fc.property(line, ({ text, op, addr, value }) => {
        const r = parseTrace(text);
        expect(r.diagnostics).toEqual([]);
        expect(rows(r)[0]).toMatchObject({ op, addr, value, line: 1 });
      }),
      { numRuns: 500 },
    );
  });
});
