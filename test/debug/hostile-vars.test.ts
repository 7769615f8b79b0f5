// Hostile variable requests on a trace with 135,000 shadow pages (issue 17,
// items 7 and 8): `dataBreakpointInfo` on a child of the Shadow pages scope
// (more children than a call can take as arguments), and `variables` with
// `filter: "indexed"` and no `count` (paged like a request without a filter).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { manyPagesTrace } from './gen';
import { launch, raw, scopes, startClient, writeTemp, type Client } from './helpers';

// V8 refuses a call with about 125,000 or more arguments: past that, spreading the children overflowed.
const N = 135_000;
let dc: Client;
let ref = 0;
let total = 0;
beforeAll(async () => {
  dc = await startClient();
  dc.defaultTimeout = 60_000;
  const file = writeTemp('hostile-vars.mmutrace', manyPagesTrace(N));
  await launch(dc, { program: file, stopOnEntry: false, logExits: false, audit: false });
  const pages = (await scopes(dc)).find((x) => x.name.startsWith('Shadow pages'))!;
  // Each read made an L1 page (the cap of N + 64 pages zaps a few on the way).
  total = pages.indexedVariables!;
  expect(total).toBeGreaterThan(N);
  ref = pages.variablesReference;
}, 120_000);
afterAll(async () => {
  await dc.stop();
});

describe('hostile variable requests', () => {
  test('dataBreakpointInfo on a child of 135,000 shadow pages answers (17.7)', async () => {
    // The last page alive (the newest): a page, not an entry, so no dataId.
    const tail = await raw(dc, 'variables', { variablesReference: ref, filter: 'indexed', start: total - 1, count: 1 });
    const name = (tail.body as { variables: { name: string }[] }).variables[0]!.name;
    expect(name).toMatch(/^#\d+$/);
    const r = await raw(dc, 'dataBreakpointInfo', { name, variablesReference: ref });
    expect(r.message).toBeUndefined();
    expect(r.success).toBe(true);
    expect(r.body).toEqual({ dataId: null, description: `\`${name}\` is not a guest or shadow entry` });
    // A name that is not there (uids start at 1).
    const none = await raw(dc, 'dataBreakpointInfo', { name: '#0', variablesReference: ref });
    expect(none.success).toBe(false);
    expect(none.message).toBe('no variable `#0` in that container');
  });

  test('variables with filter "indexed" and no count is paged as without a filter (17.8)', async () => {
    const all = await raw(dc, 'variables', { variablesReference: ref });
    const indexed = await raw(dc, 'variables', { variablesReference: ref, filter: 'indexed' });
    expect(indexed.success).toBe(true);
    const names = (r: typeof all): string[] => (r.body as { variables: { name: string }[] }).variables.map((v) => v.name);
    // The scope has no named children: both are the first page of indexed ones.
    expect(names(indexed)).toEqual(names(all));
    expect(names(indexed)).toHaveLength(1000);
    const from = await raw(dc, 'variables', { variablesReference: ref, filter: 'indexed', start: N });
    expect(names(from)).toHaveLength(total - N);
  });
});
