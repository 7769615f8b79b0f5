// Guest memory's copy-on-write snapshots, including a snapshot restored into
// another memory (the debugger may keep a second machine, e.g. for the other
// policy, and restore checkpoints into it).

import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/engine';

describe('GuestMemory snapshots', () => {
  it('a snapshot keeps the bytes it saw while the memory goes on', () => {
    const m = new GuestMemory();
    m.write(0x1000, 0x11n, 8);
    const s = m.snapshot();
    m.write(0x1000, 0x22n, 8);
    expect(m.read(0x1000, 8)).toBe(0x22n);
    m.restore(s);
    expect(m.read(0x1000, 8)).toBe(0x11n);
  });

  it('restoring into another memory never writes through to the first or to the snapshot', () => {
    const a = new GuestMemory();
    a.write(0x2000, 1n, 8);
    a.snapshot(); // a moves on to a new generation
    a.write(0x2000, 2n, 8); // a now owns a private copy of the page
    const s = a.snapshot(); // s shares that page with a
    const b = new GuestMemory(); // a fresh memory, generations behind a's page
    b.restore(s);
    b.write(0x2000, 3n, 8); // must copy, not write into the shared page
    expect(b.read(0x2000, 8)).toBe(3n);
    expect(a.read(0x2000, 8)).toBe(2n);
    const c = new GuestMemory();
    c.restore(s);
    expect(c.read(0x2000, 8)).toBe(2n);
  });
});
