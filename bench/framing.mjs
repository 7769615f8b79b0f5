// Benchmark of reading large DAP request bodies on stdio (issue 17.9): the
// adapter's own reader (dist/adapter.js, src/debug/framing.ts) side by side
// with @vscode/debugadapter's stock reader (a bare DebugSession that answers
// every request), on one `evaluate` request of 10, 25 and 50 MiB written in
// 64 KiB chunks. Run: `npm run build && node bench/framing.mjs`.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STOCK = `const { DebugSession } = require('@vscode/debugadapter');
class S extends DebugSession { dispatchRequest(r) { this.sendResponse({ seq: 0, type: 'response', request_seq: r.seq, command: r.command, success: true }); } }
DebugSession.run(S);`;

async function time(args, size) {
  const child = spawn(process.execPath, args, { cwd: ROOT });
  const skel = JSON.stringify({ seq: 1, type: 'request', command: 'evaluate', arguments: { expression: '1' } });
  const body = JSON.stringify({ seq: 1, type: 'request', command: 'evaluate', arguments: { expression: '1' + ' '.repeat(size - skel.length) } });
  const buf = Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  let out = '';
  const done = new Promise((r) => child.stdout.on('data', (d) => ((out += d), out.includes('"request_seq":1') && r())));
  const t0 = performance.now();
  for (let i = 0; i < buf.length; i += 65536) child.stdin.write(buf.subarray(i, i + 65536));
  await done;
  const ms = performance.now() - t0;
  child.kill();
  return ms;
}

for (const mib of [10, 25, 50]) {
  const ours = await time([join(ROOT, 'dist/adapter.js')], mib << 20);
  const stock = await time(['-e', STOCK], mib << 20);
  console.log(`${mib} MiB body: ours ${ours.toFixed(0)} ms, stock reader ${stock.toFixed(0)} ms, ratio ${(stock / ours).toFixed(1)}×`);
}
