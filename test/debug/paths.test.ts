// Where a launch's `program` is read from: relative paths against the
// workspace folder; absolute paths and URIs (virtual workspaces) as given.

import { describe, expect, it } from 'vitest';
import { resolvePath } from '../../src/debug/session';

describe('resolvePath', () => {
  it('keeps absolute paths and URIs', () => {
    expect(resolvePath('/w/t.mmutrace', '/cwd')).toBe('/w/t.mmutrace');
    expect(resolvePath('C:\\w\\t.mmutrace', '/cwd')).toBe('C:\\w\\t.mmutrace');
    expect(resolvePath('vscode-vfs://github/o/r/t.mmutrace', '/cwd')).toBe('vscode-vfs://github/o/r/t.mmutrace');
    expect(resolvePath('file:///w/t.mmutrace', '/cwd')).toBe('file:///w/t.mmutrace');
  });

  it('puts the workspace folder before a relative path', () => {
    expect(resolvePath('examples/t.mmutrace', '/cwd/')).toBe('/cwd/examples/t.mmutrace');
  });
});
