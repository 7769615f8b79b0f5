// 10. The Testing view: the traces with `expect` lines listed (file, policy,
//     expect); a trace added to the workspace appears; Run All passes the
//     examples and fails `expect last.exits == 2` of the added trace at its
//     line (7) with both sides; Debug on that failure stops at line 7.
import { copyFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { norm } from '../lib/workbench.mjs';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../../debug/fixtures/expect-fail.mmutrace');

export default {
  id: 10,
  title: 'Testing view: run all, a failing expect at its line, debug it',
  timeoutMs: 180000,
  async run(wb) {
    const p = wb.page;
    const added = join(wb.workspace, 'expect-fail.mmutrace');
    rmSync(added, { force: true });
    try {
      await wb.runCommand('Testing: Focus on Test Explorer View');
      const tree = p.locator('.part.sidebar .test-explorer');
      const rows = tree.locator('.monaco-list-row');
      const rowText = async () => (await rows.allInnerTexts()).map(norm).join(' | ');
      await wb.expect('the Test Explorer lists demand-fault.mmutrace', async () => (await rows.filter({ hasText: 'demand-fault.mmutrace' }).count()) > 0, {
        seen: rowText,
        missing: 'a test controller that discovers the workspace',
      });
      wb.check(!(await rowText()).includes('notes.txt'), 'the plain-text file is no test');

      // A trace written into the workspace is discovered through the file watcher.
      copyFileSync(FIXTURE, added);
      const failRow = rows.filter({ hasText: 'expect-fail.mmutrace' }).first();
      await wb.expect('expect-fail.mmutrace, written into the workspace, appears', async () => (await failRow.count()) > 0, { seen: rowText });

      await wb.runCommand('Test: Run All Tests');
      const failedIcon = failRow.locator('.codicon-testing-failed-icon, .codicon-testing-error-icon');
      await wb.expect('after Run All: expect-fail.mmutrace failed', async () => (await failedIcon.count()) > 0, { timeoutMs: 60000, seen: rowText });
      const okRow = rows.filter({ hasText: 'demand-fault.mmutrace' }).first();
      await wb.expect('demand-fault.mmutrace passed under every policy', async () => (await okRow.locator('.codicon-testing-passed-icon').count()) > 0, { seen: rowText });

      // The failure at its line, with both sides, in the editor.
      await wb.openFile('expect-fail.mmutrace', 'expect last.exits == 2');
      // The gutter: the failed `expect` on line 7, the one that held on line 9 (their test icons).
      const gutterLines = (icon) =>
        p.evaluate((cls) => {
          const ed = document.querySelector('.editor-group-container.active .monaco-editor');
          if (!ed) return [];
          const numbers = [...ed.querySelectorAll('.margin-view-overlays .line-numbers')];
          return [...ed.querySelectorAll(`.margin .${cls}`)].map((g) => {
            const y = g.getBoundingClientRect().top + g.getBoundingClientRect().height / 2;
            const n = numbers.find((x) => {
              const r = x.getBoundingClientRect();
              return y >= r.top && y < r.bottom;
            });
            return n ? Number(n.textContent.trim()) : null;
          });
        }, icon);
      await wb.expect('the gutter marks line 7 failed', async () => (await gutterLines('codicon-testing-failed-icon')).includes(7), { seen: async () => JSON.stringify(await gutterLines('codicon-testing-failed-icon')) });
      await wb.expect('… and line 9 passed', async () => (await gutterLines('codicon-testing-passed-icon')).includes(9), { seen: async () => JSON.stringify(await gutterLines('codicon-testing-passed-icon')) });
      // The peek with expected and actual (TestMessage.diff).
      await wb.gotoLine(7, 1);
      await wb.runCommand('Test: Peek Output', { optional: true }).catch(() => {});
      if (!(await p.locator('.test-output-peek').count())) await wb.runCommand('Test: Go to Next Test Failure', { optional: true });
      const peek = p.locator('.test-output-peek').first();
      const peekText = async () => norm(await peek.innerText().catch(() => ''));
      await wb.expect('the peek shows the message with expected 0x2 and actual 0x1', async () => {
        const t = await peekText();
        return /Expected/i.test(t) && /0x2/.test(t) && /0x1 \(last\.exits\)/.test(t);
      }, { seen: peekText });
      await wb.shot('10-testing-failure');
      await p.keyboard.press('Escape');

      // Debug the failure: the session stops at the failed expect (the `expect` filter is on by default).
      await wb.openRunAndDebug();
      await wb.gotoLine(7, 1);
      await wb.runCommand('Test: Debug Test at Cursor');
      await wb.expect('the debug session stops at the failed expect, line 7', async () => (await wb.pausedLine()) === 7, {
        timeoutMs: 30000,
        seen: async () => `paused line ${await wb.pausedLine()}; ${await wb.whatIsSeen()}`,
      });
      await wb.expect('… on the `expect` exception', async () => /exception|expect/i.test(await wb.callStackHeader()), { seen: () => wb.callStackHeader() });
      await wb.shot('10-testing-debug');
      await wb.stopDebugging();
    } finally {
      rmSync(added, { force: true });
    }
  },
};
