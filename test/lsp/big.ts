// A trace of about `lines` lines for the large-document tests and the bench:
// a setup, then reads, writes and pte writes over a few pages, one per line.

export function bigTrace(lines: number): string {
  const out = ['mode 64', 'space init', 'map 0x400000..0x40f000 = 0x200000 P W U A D', ''];
  const ops = ['read 0x40%s000', 'write 0x40%s008', 'exec 0x40%s010', 'pte 0x40%s000 = 0x2%s000 P W U A D'];
  for (let i = out.length; i < lines; i++) {
    const page = (i % 16).toString(16);
    out.push(ops[i % ops.length]!.replaceAll('%s', page));
  }
  return out.join('\n') + '\n';
}
