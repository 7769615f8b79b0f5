// Human-readable output of the command: a run's summary and the compare table.

import type { Summary } from '../engine';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatSummary(s: Summary): string {
  const e = s.exits;
  const sh = s.shadow;
  return [
    `${s.file}: ${s.events} events, mode ${s.mode}, policy ${s.policy}`,
    `  VM exits ${e.total}: page-fault ${e.pf} (fill ${e.fill}, inject ${e.inject}, emulate ${e.emulate}), cr3 ${e.cr3}, invlpg ${e.invlpg}${s.policy === 'tdp' ? `, npt ${e.npt}` : ''}`,
    `  guest page faults injected ${s.faults}`,
    `  shadow pages created ${sh.pagesCreated}, zapped ${sh.pagesZapped}, alive ${sh.pagesAlive}, reclaimed ${sh.reclaimed}, over limit ${sh.overLimit}`,
    `  shadow ptes zapped ${sh.sptesZapped}, updated ${sh.sptesUpdated}; floods ${sh.floods}; unshadowed ${sh.unshadowed}`,
    ...Object.entries(s.fromLabel).map(([label, v]) => `  VM exits from @${label}: ${v.exits}`),
    `  livelocks ${s.livelocks}, hangs ${s.hangs}`,
    `  expectations ${s.expectations.passed} passed, ${s.expectations.failed} failed; audit violations ${s.audit.violations}${flawText(s.audit.byFlaw)}`,
  ].join('\n');
}

/** ` (flaw 2: 3, flaw 4: 1)`, or nothing. */
function flawText(byFlaw: Record<string, number>): string {
  const parts = Object.entries(byFlaw).map(([f, n]) => (f === 'unexplained' ? `unexplained: ${n}` : `flaw ${f}: ${n}`));
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Exits by reason and outcome, and the shadow work, one column per policy. */
export function compareTable(file: string, results: Record<string, Summary>): string {
  const names = Object.keys(results);
  const col = (f: (s: Summary) => number): string[] => names.map((n) => String(f(results[n]!)));
  const rows: string[][] = [
    ['', ...names],
    ['VM exits', ...col((s) => s.exits.total)],
    ['  page-fault: fill', ...col((s) => s.exits.fill)],
    ['  page-fault: inject', ...col((s) => s.exits.inject)],
    ['  page-fault: emulate', ...col((s) => s.exits.emulate)],
    ['  cr3', ...col((s) => s.exits.cr3)],
    ['  invlpg', ...col((s) => s.exits.invlpg)],
    ['  npt', ...col((s) => s.exits.npt)],
    ['guest faults injected', ...col((s) => s.faults)],
    ['shadow ptes zapped', ...col((s) => s.shadow.sptesZapped)],
    ['shadow ptes updated', ...col((s) => s.shadow.sptesUpdated)],
    ['shadow pages created', ...col((s) => s.shadow.pagesCreated)],
    ['shadow pages zapped', ...col((s) => s.shadow.pagesZapped)],
    ['floods', ...col((s) => s.shadow.floods)],
    ['livelocks', ...col((s) => s.livelocks)],
    ['hangs', ...col((s) => s.hangs)],
    ['expect failed', ...col((s) => s.expectations.failed)],
    ['audit violations', ...col((s) => s.audit.violations)],
  ];
  const first = results[names[0]!]!;
  for (const label of Object.keys(first.fromLabel)) {
    rows.splice(2, 0, [`  from @${label}`, ...col((s) => s.fromLabel[label]?.exits ?? 0)]);
  }
  return `${file}: ${first.events} events, mode ${first.mode}\n\n${table(rows)}`;
}
