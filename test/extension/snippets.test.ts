// The snippets expand to traces that parse, replay and check themselves
// under both policies, after the setup each one says it needs.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Machine, POLICY_NAMES } from '../../src/engine';
import { parseTrace } from '../../src/trace';

const snippets: Record<string, { prefix: string[]; body: string[]; description: string }> = JSON.parse(
  readFileSync(resolve(__dirname, '../../snippets/mmutrace.code-snippets'), 'utf8'),
);

/** A snippet with every placeholder at its default (the first choice of a choice). */
function expand(body: string[]): string {
  const values = new Map<string, string>();
  let text = body.join('\n');
  text = text.replace(/\$\{(\d+)\|([^|]*)\|\}/g, (_, n: string, choices: string) => {
    values.set(n, choices.split(',')[0]!);
    return choices.split(',')[0]!;
  });
  text = text.replace(/\$\{(\d+):([^}]*)\}/g, (_, n: string, d: string) => {
    values.set(n, d);
    return d;
  });
  return text.replace(/\$(\d+)/g, (_, n: string) => values.get(n) ?? '');
}

const SETUPS: Record<string, string> = {
  'Demand fault': 'mode 64\nspace init\nmap 0x400000 = 0\nmap 0x401000 = 0x201000 P W U A D\n',
  'Copy-on-write': 'mode 64\nspace init\nmap 0x400000 = 0x200000 P U A D\n',
  'Context switch': 'mode 64\nspace a\nmap 0x400000 = 0x200000 P W U A D\nspace b\nmap 0x400000 = 0x300000 P W U A D\n',
  Fork: 'mode 64\nspace parent\nmap 0x400000..0x408000 = 0x200000 P W U A D\n',
  'New trace': '',
};

describe('snippets', () => {
  test('the four patterns of the issue and a new-trace skeleton', () => {
    expect(Object.keys(snippets).sort()).toEqual(Object.keys(SETUPS).sort());
    for (const s of Object.values(snippets)) {
      expect(s.prefix.length).toBeGreaterThan(0);
      expect(s.description.length).toBeGreaterThan(30);
    }
  });

  for (const [name, setup] of Object.entries(SETUPS)) {
    test(`${name}: parses, replays, and its expects hold under every policy`, () => {
      const text = setup + expand(snippets[name]!.body) + '\n';
      const r = parseTrace(text);
      expect(r.diagnostics, text).toEqual([]);
      for (const policy of POLICY_NAMES) {
        const m = new Machine(r.program, { policy, audit: true });
        m.run();
        expect(m.error, `${name} under ${policy}`).toBeNull();
        expect(m.failures.map((f) => `${f.line}: ${f.source} — ${f.message}`), `${name} under ${policy}`).toEqual([]);
        expect(m.events).toBeGreaterThan(0);
      }
    });
  }
});
