// The memory a parsed and replayed kbuild-like 64-bit trace holds, stage by
// stage (the program, the machine after setup, what replay adds), as ratios
// of the file's size: quicker than `npm run bench` when only memory is
// wanted: `npm run bench:mem [-- EVENTS]`.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../src/engine';
import { parseTrace } from '../src/trace';
import { generateTrace } from './gen';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function memory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function main(): void {
  const events = Number(process.argv[2] ?? 1_000_000);
  const dir = join(tmpdir(), 'mmutrace-bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `kbuild-64-${events}.mmutrace`);
  if (!existsSync(file)) writeFileSync(file, generateTrace({ mode: '64', events, spaces: 300, seed: 2007 }));
  const bytes = readFileSync(file).length;
  const m0 = memory();
  let text: string | undefined = readFileSync(file, 'utf8');
  const program = parseTrace(text).program;
  text = undefined;
  const m1 = memory();
  const m = new Machine(program, { policy: 'update' });
  const m2 = memory();
  m.run();
  const m3 = memory();
  const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;
  const r = (n: number): string => `${(n / bytes).toFixed(2)}x`;
  console.log(`${file}: ${mb(bytes)}, ${program.events.count} rows`);
  console.log(`  program (table)      ${mb(m1 - m0)} ${r(m1 - m0)} (${((m1 - m0) / program.events.count).toFixed(1)} bytes/row)`);
  console.log(`  machine after setup  ${mb(m2 - m1)} ${r(m2 - m1)} (${m.mem.pageCount} guest pages)`);
  console.log(`  replay adds          ${mb(m3 - m2)} ${r(m3 - m2)} (${m.mmu.shadow.alive} shadow pages)`);
  console.log(`  held after replay    ${mb(m3 - m0)} ${r(m3 - m0)}`);
}

main();
