// The command line of "mmutrace: Record a Program…": words as a POSIX shell
// splits them in the simple cases; what needs a shell is refused.

import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../src/record/cmdline';

describe('splitCommandLine', () => {
  it('splits on blanks and keeps quoted text whole', () => {
    expect(splitCommandLine('  gcc -c  "a b.c" -o \'x y.o\' ')).toEqual(['gcc', '-c', 'a b.c', '-o', 'x y.o']);
    expect(splitCommandLine('echo "say \\"hi\\"" it\\ s \'\'')).toEqual(['echo', 'say "hi"', 'it s', '']);
  });

  it('refuses what a shell would interpret, and unclosed quotes, naming the column', () => {
    expect(() => splitCommandLine('ls | wc')).toThrow(/`\|` at column 4.*sh -c/);
    expect(() => splitCommandLine('ls *.c')).toThrow(/column 4/);
    expect(() => splitCommandLine('echo "abc')).toThrow(/unclosed " at column 6/);
    expect(() => splitCommandLine("echo 'abc")).toThrow(/unclosed ' at column 6/);
  });
});
