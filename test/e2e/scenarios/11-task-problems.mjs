// 11. A task of type `mmutrace` (tasks.json: check expect-fail.mmutrace under
//     all four policies, problem matcher $mmutrace) runs the bundled CLI; its
//     failed expects land in the Problems view at line 7, one per policy.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { norm } from '../lib/workbench.mjs';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '../../debug/fixtures/expect-fail.mmutrace');
const LABEL = 'check expect-fail (all policies)';

export default {
  id: 11,
  title: 'Task: mmutrace check, its problems in the Problems view',
  timeoutMs: 150000,
  async run(wb) {
    const p = wb.page;
    const added = join(wb.workspace, 'expect-fail.mmutrace');
    const vscodeDir = join(wb.workspace, '.vscode');
    copyFileSync(FIXTURE, added);
    mkdirSync(vscodeDir, { recursive: true });
    writeFileSync(
      join(vscodeDir, 'tasks.json'),
      JSON.stringify({ version: '2.0.0', tasks: [{ type: 'mmutrace', command: 'check', file: 'expect-fail.mmutrace', policy: 'all', label: LABEL, problemMatcher: ['$mmutrace'] }] }, null, 2),
    );
    try {
      const row = p.locator('.quick-input-list .monaco-list-row', { hasText: LABEL }).first();
      // A tasks.json just written reaches the task list once VS Code's file watcher has seen it: asked again until then.
      let asked = 0;
      await wb.expect(`Run Task offers "${LABEL}" from tasks.json`, async () => {
        if ((await row.count()) > 0) return true;
        if (asked++ % 10 === 0) {
          await p.keyboard.press('Escape');
          await wb.runCommand('Tasks: Run Task');
        }
        return false;
      }, {
        timeoutMs: 45000,
        seen: async () => (await p.locator('.quick-input-list .monaco-list-row').allInnerTexts()).join(' | '),
      });
      await row.click();
      // VS Code may ask whether to scan the output: the task names its matcher, so it should not.
      const problems = await wb.openProblems();
      const text = async () => norm(await problems.innerText());
      // On a failure, what the task's terminal showed too (its rows as xterm rendered them).
      const seenAll = async () => {
        const problemsText = await text();
        await wb.runCommand('Terminal: Focus Terminal', { optional: true });
        const term = norm(await p.locator('.terminal-wrapper .xterm-rows').first().innerText({ timeout: 3000 }).catch(() => '(no terminal)'));
        await wb.openProblems();
        return `${problemsText}\n--- terminal:\n${term}`;
      };
      await wb.expect('the Problems view lists the failed expect under each of the four policies', async () => {
        const t = await text();
        return ['zap', 'update', 'access', 'tdp'].every((pol) => t.includes(`expect failed [${pol}]: last.exits == 2`));
      }, { timeoutMs: 60000, seen: seenAll, missing: 'the $mmutrace problem matcher' });
      await wb.expect('… under expect-fail.mmutrace, at line 7, column 8', async () => /expect-fail\.mmutrace/.test(await text()) && /\[Ln 7, Col 8\]/.test(await text()), { seen: text });
      await wb.expect('… with both sides: left 0x1 under zap, left 0x5 under tdp', async () => /left 0x1 \(last\.exits\), right 0x2/.test(await text()) && /left 0x5 \(last\.exits\), right 0x2/.test(await text()), { seen: text });
      await wb.shot('11-task-problems');
      // A click on a problem opens the trace at line 7.
      await problems.locator('.monaco-list-row', { hasText: 'expect failed [zap]' }).first().dblclick();
      await wb.expect('a double click opens expect-fail.mmutrace at line 7', async () => (await p.locator('.tabs-container .tab.active', { hasText: 'expect-fail.mmutrace' }).count()) > 0, {
        seen: async () => (await p.locator('.tabs-container .tab').allInnerTexts()).join(' | '),
      });
      await wb.expectCursor(7, 8).then(
        () => wb.check(true, '… with the cursor at 7:8'),
        (e) => wb.check(false, '… with the cursor at 7:8', { seen: e.message }),
      );
      await wb.runCommand('Terminal: Kill All Terminals', { optional: true });
    } finally {
      rmSync(added, { force: true });
      rmSync(vscodeDir, { recursive: true, force: true });
    }
  },
};
