// Escapes the characters a reader cannot see (controls, NBSP and other spaces
// than the plain one, zero-width characters, bidi controls such as U+202E, a
// BOM, U+FFFD) as `\u{XXXX}`, so that a message quoting the input shows what
// is there and cannot be reordered or hidden on the terminal.

const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function escapeInvisible(s: string): string {
  INVISIBLE.lastIndex = 0;
  if (!INVISIBLE.test(s)) return s;
  return s.replace(INVISIBLE, (c) => `\\u{${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}}`);
}
