// The two traces of issue 16 (the audit's worst case: context switches), generated:
// 16,384 pages read in one space then 4,000 CR3 reloads of it; and a legal trace over two
// spaces of 64 MB each (60% reads, 20% writes, 10% pte, 5% cr3, 5% invlpg).

import { prng } from './gen';

export function reloadTrace(): string {
  const lines = ['mode 64', 'space a', 'map 0x400000..0x4400000 = 0x400000 P W U A D'];
  for (let i = 0; i < 16384; i++) lines.push(`read 0x${(0x400000 + i * 0x1000).toString(16)}`);
  for (let i = 0; i < 4000; i++) lines.push('cr3 a');
  return lines.join('\n') + '\n';
}

export function twoSpacesTrace(events: number): string {
  const rnd = prng(16);
  const lines = ['mode 64', 'space a', 'map 0x400000..0x4400000 = 0x400000 P W U A D', 'space b', 'map 0x400000..0x4400000 = 0x8400000 P W U A D'];
  let cur = 'a';
  for (let i = 0; i < events; i++) {
    const r = rnd();
    const va = 0x400000 + Math.floor(rnd() * 16384) * 0x1000;
    if (r < 0.6) lines.push(`read 0x${va.toString(16)}`);
    else if (r < 0.8) lines.push(`write 0x${va.toString(16)} = 0x${Math.floor(rnd() * 1e6).toString(16)}`);
    else if (r < 0.9) {
      const frame = (cur === 'a' ? 0x400000 : 0x8400000) + Math.floor(rnd() * 16384) * 0x1000;
      lines.push(`pte 0x${va.toString(16)} = 0x${frame.toString(16)} P W U A D`);
    } else if (r < 0.95) {
      cur = cur === 'a' ? 'b' : 'a';
      lines.push(`cr3 ${cur}`);
    } else lines.push(`invlpg 0x${va.toString(16)}`);
  }
  return lines.join('\n') + '\n';
}
