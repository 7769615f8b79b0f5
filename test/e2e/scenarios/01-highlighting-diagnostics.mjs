// 1. Open the seed's trace: its tokens carry the grammar's scopes (the token
//    inspector names them; the rendered spans get several token classes where
//    the same text as plain text gets one); the Problems view is empty; a typo
//    gets a diagnostic with its message; undo clears it.
import { norm } from '../lib/workbench.mjs';

const FILE = 'demand-fault.mmutrace';
const LINE = 'read 0x400000 @fault';

/** The token classes (mtkN) of the rendered line that starts with `start`. */
async function tokenClasses(wb, start) {
  return wb.line(start).evaluate((el) => [...el.querySelectorAll('span > span')].map((s) => [s.className, s.textContent]));
}

export default {
  id: 1,
  title: 'highlighting, Problems view, a diagnostic as you type',
  async run(wb) {
    const p = wb.page;
    await wb.runCommand('View: Show Explorer');
    await wb.openFile(FILE, LINE);
    await wb.expect('the status bar names the language mmutrace', async () => (await p.locator('.statusbar-item', { hasText: /^mmutrace$/ }).count()) > 0, {
      missing: 'the mmutrace language for *.mmutrace (package.json contributes.languages)',
    });

    // The rendered spans: keyword, number and label each get a token class of their own.
    const spans = await tokenClasses(wb, LINE);
    const cls = (t) => spans.find(([, text]) => text.trim() === t)?.[0];
    wb.check(cls('read') && cls('0x400000') && cls('read') !== cls('0x400000'), '`read` and `0x400000` are rendered with different token classes', {
      seen: JSON.stringify(spans),
      missing: 'the TextMate grammar (contributes.grammars)',
    });
    const distinct = new Set(
      (await wb.editor().locator('.view-line span > span').evaluateAll((els) => els.map((e) => /\bmtk\d+\b/.exec(e.className)?.[0]))).filter(Boolean),
    );
    wb.check(distinct.size >= 5, `the trace uses at least 5 token classes (got ${distinct.size}: ${[...distinct].join(' ')})`, { missing: 'the TextMate grammar' });

    // The token inspector names the grammar's scopes.
    await wb.gotoLine(15, 2);
    await wb.runCommand('Developer: Inspect Editor Tokens and Scopes');
    const inspector = p.locator('.token-inspect-widget');
    await wb.expect('the token inspector shows keyword.control.event.mmutrace for `read`', async () => norm(await inspector.innerText()).includes('keyword.control.event.mmutrace'), {
      seen: async () => norm(await inspector.innerText()),
      missing: 'grammar scope keyword.control.event.mmutrace',
    });
    await wb.expect('… within source.mmutrace', async () => norm(await inspector.innerText()).includes('source.mmutrace'));
    await wb.shot('01-highlighting');
    await p.keyboard.press('Escape');
    await wb.gotoLine(15, 8);
    await wb.runCommand('Developer: Inspect Editor Tokens and Scopes');
    await wb.expect('the token inspector shows constant.numeric.hex.mmutrace for `0x400000`', async () => norm(await inspector.innerText()).includes('constant.numeric.hex.mmutrace'), {
      seen: async () => norm(await inspector.innerText()),
      missing: 'grammar scope constant.numeric.hex.mmutrace',
    });
    await p.keyboard.press('Escape');

    // The same words in a plain-text file: one token class.
    await wb.openFile('notes.txt', 'Plain text');
    const plain = await tokenClasses(wb, 'Plain text, for comparison');
    const plainClasses = new Set(plain.map(([c]) => /\bmtk\d+\b/.exec(c)?.[0] ?? c));
    wb.check(plainClasses.size === 1, `the plain-text file renders with one token class (got ${[...plainClasses].join(' ')})`);

    // Problems: nothing for the example.
    await wb.openFile(FILE, LINE);
    const problems = await wb.openProblems();
    await wb.expect('the Problems view is empty', async () => norm(await problems.innerText()).includes('No problems have been detected in the workspace.'), {
      seen: async () => norm(await problems.innerText()),
    });

    // Type a typo on the last (empty) line.
    await wb.focusEditor();
    await p.keyboard.press('Control+End');
    await p.keyboard.type('reed 0x400000');
    const message = 'unknown keyword `reed` (did you mean `read`?)';
    await wb.expect(`the Problems view shows "${message}"`, async () => norm(await problems.innerText()).includes(message), {
      seen: async () => norm(await problems.innerText()),
      missing: 'diagnostics as you type (vscode.languages.createDiagnosticCollection)',
    });
    await wb.expect('the typo is underlined as an error in the editor', async () => (await wb.editor().locator('.squiggly-error').count()) > 0);
    await wb.shot('01-diagnostic');

    // Undo until the typo is gone; the problem goes with it.
    for (let i = 0; i < 40 && (await wb.editorText()).includes('reed'); i++) {
      await p.keyboard.press('Control+Z');
      await p.waitForFunction(() => true);
    }
    wb.check(!(await wb.editorText()).includes('reed'), 'undo removed the typo');
    await wb.expect('the Problems view is empty again', async () => norm(await problems.innerText()).includes('No problems have been detected in the workspace.'), {
      seen: async () => norm(await problems.innerText()),
    });
    await wb.expect('the editor is not dirty after undo', async () => (await p.locator('.tabs-container .tab.active.dirty').count()) === 0);
  },
};
