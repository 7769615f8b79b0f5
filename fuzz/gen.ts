// Input generators of the fuzz command (fuzz/fuzz.ts): seeded, so that every
// input is made again from (part, seed, index). Traces are near-valid (the
// grammar's words and numbers, then mutated) or hostile (bytes, long lines,
// lone CRs, invisible characters, huge ranges); expressions are chains,
// nestings and calls; CLI argument lists and DAP request sequences likewise.

import { prng } from '../bench/gen';

export type Rng = () => number;

/** mulberry32 (bench/gen.ts's prng) over a seed and an index: one stream per input. */
export function rng(seed: number, index: number): Rng {
  return prng((Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0);
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const NUMS = [
  '0', '1', '0x1000', '0x2000', '0xfff', '4k', '2m', '1g', '0x7ffffffffffff000', '0xfffff000', '0xffffffff', '0x100000000',
  '0xffff800000000000', '0x800000000000', '0xffffffffffffffff', '0x10000000000000000', '-1', '0x', '0b101', '1_000', '9007199254740993',
  '0x200000', '0x40000000', '0x8000000000',
];
const FLAGS = ['P', 'W', 'U', 'A', 'D', 'PS', 'G', 'NX', 'PWT', 'PCD', 'p', 'Q'];
const ODD = ['\u00a0', '\u202e', '\u200b', '\ufeff', '\r', '\t', '\u0000', '\ufffd', 'é', '😀', '\ud800', '"', '#', '@', '..', '=', '(', ')'];

export function num(r: Rng): string {
  return r() < 0.7 ? pick(r, NUMS) : '0x' + Math.floor(r() * 2 ** 52).toString(16);
}

function pte(r: Rng): string {
  let s = num(r);
  for (let i = int(r, 5); i > 0; i--) s += ' ' + pick(r, FLAGS);
  return s;
}

/** An expression: chains, nestings, calls, members, strings; sometimes past the caps. */
export function expr(r: Rng, depth = 0): string {
  const k = int(r, depth > 4 ? 3 : 10);
  switch (k) {
    case 0:
      return num(r);
    case 1:
      return pick(r, ['last.exits', 'exits.total', 'policy', 'vcpu', 'line', 'cr3', 'last.fault', 'P', 'W', 'NX', 'shadow.pages', 'nosuch', '"update"', '"']);
    case 2:
      return `${pick(r, ['gpa', 'gpte', 'spte', 'shadowed', 'npte', 'nope'])}(${num(r)})`;
    case 3:
      return `(${expr(r, depth + 1)})`;
    case 4:
      return `${pick(r, ['!', '~', '-'])}${expr(r, depth + 1)}`;
    case 5: {
      // A flat chain, sometimes longer than the cap.
      const n = r() < 0.1 ? 250 + int(r, 20) : 2 + int(r, 6);
      const op = pick(r, ['+', '||', '&&', '*', '|', '==', '<<', '-', '/', '%']);
      return Array.from({ length: n }, () => (r() < 0.5 ? num(r) : expr(r, depth + 3))).join(` ${op} `);
    }
    case 6:
      return r() < 0.05 ? '('.repeat(250 + int(r, 20)) + '1' + ')'.repeat(250 + int(r, 20)) : `${expr(r, depth + 1)} ${pick(r, ['==', '!=', '<', '>=', '&', '^', '>>'])} ${expr(r, depth + 1)}`;
    case 7:
      return `gpa(${expr(r, depth + 1)}, ${num(r)})`;
    case 8:
      return expr(r, depth + 1) + pick(r, ODD);
    default:
      return `${expr(r, depth + 1)} ${pick(r, ['&&', '||'])} ${expr(r, depth + 1)}`;
  }
}

function line(r: Rng, setup: boolean): string {
  if (setup) {
    switch (int(r, 8)) {
      case 0:
        return `mode ${pick(r, ['32', 'pae', '64', '99'])}`;
      case 1:
        return `space s${int(r, 5)}`;
      case 2:
        return r() < 0.2 ? `map 0..${pick(r, ['0x100000000', '0x40000000', '0x2000', '0x800000000000'])} = ${pte(r)}` : `map ${num(r)}${r() < 0.3 ? ' L2' : ''} = ${pte(r)}`;
      case 3:
        return `poke ${num(r)} = ${num(r)}${r() < 0.3 ? ` size ${pick(r, ['1', '2', '4', '8', '3'])}` : ''}`;
      case 4:
        return `policy ${pick(r, ['zap', 'update', 'access', 'tdp', 'bogus', ''])}`;
      case 5:
        return `${pick(r, ['pool', 'shadow-pages', 'vcpus'])} ${num(r)}`;
      case 6:
        return `cpl ${pick(r, ['user', 'kernel', '3'])}`;
      default:
        return `# ${pick(r, ODD)} comment`;
    }
  }
  switch (int(r, 10)) {
    case 0:
    case 1:
      return `read ${num(r)}${r() < 0.2 ? ' @l' + int(r, 3) : ''}`;
    case 2:
      return `write ${num(r)}${r() < 0.5 ? ` = ${num(r)}` : ''}`;
    case 3:
      return `exec ${num(r)}`;
    case 4:
      return `pte ${num(r)}${r() < 0.3 ? ' L2' : ''} = ${pte(r)}`;
    case 5:
      return `cr3 ${r() < 0.5 ? 's' + int(r, 5) : num(r)}`;
    case 6:
      return `invlpg ${num(r)}`;
    case 7:
      return `expect ${expr(r)}`;
    case 8:
      return `store ${num(r)} = ${num(r)}`;
    default:
      return `vcpu ${int(r, 3)}`;
  }
}

/** A trace: near-valid lines, then mutations (bytes, line ends, invisible characters). */
export function trace(r: Rng): string {
  const lines: string[] = [`mode ${pick(r, ['32', 'pae', '64', '64', '64'])}`, 'space s0'];
  for (let i = int(r, 12); i > 0; i--) lines.push(line(r, true));
  for (let i = int(r, 30); i > 0; i--) lines.push(line(r, false));
  let text = lines.join(pick(r, ['\n', '\n', '\n', '\r\n', '\r'])) + '\n';
  for (let i = r() < 0.5 ? 0 : int(r, 6); i > 0; i--) {
    const at = int(r, text.length + 1);
    const what = int(r, 5);
    if (what === 0) text = text.slice(0, at) + pick(r, ODD) + text.slice(at);
    else if (what === 1) text = text.slice(0, at) + text.slice(at + int(r, 20));
    else if (what === 2) text = text.slice(0, at) + String.fromCharCode(int(r, 0x3000)) + text.slice(at);
    else if (what === 3) text = text.slice(0, at) + 'x'.repeat(r() < 0.1 ? 100_001 : 40) + text.slice(at);
    else text = text.slice(0, at) + line(r, r() < 0.5) + '\n' + text.slice(at);
  }
  return text;
}

/** The bytes of a trace file: UTF-8 text, sometimes with invalid UTF-8 in it. */
export function traceBytes(r: Rng): Buffer {
  const b = Buffer.from(trace(r), 'utf8');
  if (r() < 0.15) {
    const at = int(r, b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from([pick(r, [0xff, 0xc0, 0xe9, 0xed, 0x80])]), b.subarray(at)]);
  }
  return b;
}

/** Command lines of the CLI for a file (FILE stands for it). */
export function cliArgs(r: Rng): string[] {
  const cmd = pick(r, ['run', 'run', 'check', 'compare', 'bogus', '']);
  const args = [cmd, 'FILE'];
  if (cmd === 'check' && r() < 0.3) args.push('FILE');
  for (let i = int(r, 3); i > 0; i--) {
    args.push(pick(r, ['--json', '--audit', '--policy', '--policy=', '--policy=zap', '--policy=all', '--policies=zap,update', '--policies=', '--bogus', 'update', '-']));
  }
  return args.filter((a) => a !== '');
}

/** Where the CLI and the adapter are pointed besides the generated file. */
export const HOSTILE_PATHS = ['/dev/zero', '/dev/urandom', '/dev/null', 'FIFO', '/', '/nonexistent/x.mmutrace', '/proc/self/status'];
