// The entry of dist/lsp.js: the language server on the transport its
// arguments name. Apart from node.ts so that the CLI's bundle (dist/cli.js),
// which imports node.ts for `mmutrace lsp`, does not also start a server
// (it used to print `mmutrace lsp: unknown option \`run\`` on every
// `node dist/cli.js run ...`).

import { LSP_USAGE, startNodeServer } from './node';

const err = startNodeServer(process.argv.slice(2));
if (err) {
  process.stderr.write(`mmutrace lsp: ${err}\n${LSP_USAGE}\n`);
  process.exitCode = 2;
}
