// The parser's fast path for the common event lines (TraceParser.fastLine)
// against its general path: the same program, rows and diagnostics on tricky
// inputs and on generated ones. TraceParser.fastPath = false parses every
// line the general way.
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { TraceParser, parseTrace, type ParseResult } from '../../src/trace';
import { parseSummary } from './helpers';

function general(text: string): ParseResult {
  TraceParser.fastPath = false;
  try {
    return parseTrace(text);
  } finally {
    TraceParser.fastPath = true;
  }
}

/** Both paths give the same result, also when the text is parsed a few lines at a time. */
function same(text: string, step = 0): void {
  const slow = parseSummary(general(text));
  expect(parseSummary(parseTrace(text)), JSON.stringify(text)).toEqual(slow);
  if (step > 0) {
    const p = new TraceParser(text);
    let calls = 0;
    while (!p.parseLines(step)) {
      calls++;
      expect(p.linesParsed).toBe(calls * step);
    }
    expect(parseSummary(p.result())).toEqual(slow);
  }
}

afterEach(() => {
  TraceParser.fastPath = true;
});

const HEADS = ['', 'mode 32\nspace a\n', 'mode pae\nspace a\n', 'space a\nspace b\n', 'vcpus 2\n'];

describe('the fast path gives what the general path gives', () => {
  const tricky = [
    'read 0x1000',
    'READ 0X1F\nExEc 0xABCdef\nWrite 0x2000 = 0xFF\nPte 0x3000 = 0x5000 p w u a d',
    'read 0x1000\r\nwrite 0x2000\r\npte 0x3000 = 0x4000 P\r\n',
    'read\t0x1000\t\nwrite \v 0x2000 \f= \t 7\r\r\n',
    '\uFEFFread 0x1000\n\uFEFFread 0x1000\n',
    'read 0x0040_0000\nread 4k\nread 0x1000g\nread 0x1000_\nread 0b1010\nread 1_000\n',
    'read 0x1000 # a comment\nread 0x1000#c\nwrite 0x2000=5#c\npte 0x3000 = 0x4000 P W#c\n',
    'read 0x1000 @lab\nread 0x1000 user\nwrite 0x2000 size 4\npte 0x3000 L2 = 0x200000 P PS\npte 0x3000 = 0x4000 P size 4 offset 4\n',
    'read 0x8000_0000_0000\nread 0x800000000000\nread 0x7fffffffffff\nread 0xffff800000000000\nread 0xffff7fffffffffff\nread 0xffffffffffffffff\n',
    'read 0x10000000000000000\nread 0x00000000000000001\nread 0x0000000000000001\nread 9007199254740993\nread 123456789012345\nread 1234567890123456\n',
    'write 0xff8\nwrite 0xff9\nwrite 0xffc = 1\nwrite 0x1000 = 0xffffffffffffffff\n',
    'pte 0x1000 = 0x2001 P\npte 0x1000 = 0x2000 P P\npte 0x1000 = 0x2000 NX\npte 0x1000 = 0x8000000000002000 P\npte 0x1000 = 0x2000 Q\npte 0x1000\npte 0x1000 = \n',
    'read 0x1000 0x2000\nread 0x1000 =\nwrite 0x1000 0x5\nexec 0x1000 P\nread 0x1000é\nread 0x1000\u00a0\nread 0x1000 \ud83d\ude00\n',
    'reads 0x1000\nread-x 0x1000\nread. 0x1000\nexecute 0x1000\nexpect 1 == 1\nrea 0x1\nr 0x1\npt 0x1\n',
    'read  0x1000\n  read 0x1000\n\tread 0x1000\nread 0x1000   \nread\n read\nread \n',
    'read 0x1000\n\n\nread 0x2000\r\rread 0x3000',
    'map 0x1000 = 0\nread 0x1000\nmap 0x2000 = 0\n',
    'read 0x100000000\nwrite 0x1000 = 0x100000000\npte 0x1000 = 0x100000000\npte 0x1000 = 0x2000 NX\n',
    `read ${' '.repeat(100_001)}0x1000\nread 0x1000 #${'x'.repeat(100_001)}\nread 0x1000\n`,
  ];
  for (const head of HEADS) {
    test(`tricky lines after ${JSON.stringify(head)}`, () => {
      for (const t of tricky) {
        same(head + t, 2);
        same(head + t.replace(/\n/g, '\r\n'));
      }
    });
  }

  test('generated lines (property)', () => {
    const num = fc.oneof(
      fc.constantFrom('0x1000', '0X1F', '0x0040_0000', '4096', '4k', '0xffff800000001000', '0x800000000000', '0xffffffffffffffff', '0xfff8', '0xffc', '0x', '0xg', '0b101', '12345678901234567', '0x100000000', '0x200067', '0x201000', '0x8000000000200000'),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => '0x' + v.toString(16)),
      fc.bigInt({ min: 0n, max: 2n ** 53n }).map((v) => v.toString()),
    );
    const word = fc.constantFrom('=', '=', 'P', 'w', 'U', 'A', 'd', 'NX', 'PS', 'G', 'pwt', 'P P', 'X', 'size 4', 'offset 4', 'user', '@l', '@', '# c', '#', 'L2', '..', 'é', '\t', '');
    const sep = fc.constantFrom(' ', ' ', '\t', '  ', '\r', '');
    const kw = fc.constantFrom('read', 'READ', 'write', 'Write', 'exec', 'pte', 'PTE', 'store', 'invlpg', 'expect', 'map', 'reads', 'pt');
    const soup = fc
      .tuple(fc.constantFrom('', '', ' ', '#'), kw, sep, num, fc.array(fc.tuple(sep, fc.oneof(word, num)), { maxLength: 7 }))
      .map(([pre, k, s, n, rest]) => pre + k + s + n + rest.map(([a, b]) => a + b).join(''));
    // Nearly always the shapes that the fast path takes, with one thing that may be off.
    const flag = fc.constantFrom('P', 'W', 'U', 'A', 'D', 'NX', 'PS', 'G', 'PWT', 'PCD', 'p', 'w', 'Nx', 'Q');
    const shaped = fc
      .tuple(fc.constantFrom('read', 'write', 'exec', 'pte'), num, fc.option(num), fc.array(flag, { maxLength: 5 }), fc.constantFrom('', '', ' ', ' # c', ' @l', ' size 4'))
      .map(([k, a, v, fs, end]) => `${k} ${a}${v !== null ? ` = ${v}` : ''}${fs.map((f) => ' ' + f).join('')}${end}`);
    const line = fc.oneof(soup, shaped);
    const text = fc
      .tuple(fc.constantFrom(...HEADS), fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n', '\n\n')), { maxLength: 10 }))
      .map(([head, ls]) => head + ls.map(([l, e]) => l + e).join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 4 }), (t, step) => same(t, step)),
      { numRuns: 1500 },
    );
  });
});
