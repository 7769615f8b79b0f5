// 6. The Debug Console evaluates `gpa(0x400000)` and `exits.total`.
import { norm } from '../lib/workbench.mjs';

async function evaluate(wb, expr) {
  const p = wb.page;
  const input = p.locator('.repl-input-wrapper .monaco-editor');
  await input.click();
  await wb.waitFocus('.repl-input-wrapper', 'the Debug Console input');
  const before = await p.locator('.repl .monaco-list-row').count();
  await p.keyboard.type(expr);
  await p.keyboard.press('Enter');
  // The echo of the input and its result: two more rows.
  await p.waitForFunction((n) => document.querySelectorAll('.repl .monaco-list-row').length >= n + 2, before, { timeout: 10000 }).catch(() => {});
  const rows = await p.locator('.repl .monaco-list-row').allInnerTexts();
  return rows.map(norm);
}

export default {
  id: 6,
  title: 'Debug Console: gpa(0x400000) and exits.total',
  async run(wb) {
    const p = wb.page;
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    await wb.startDebugging();
    // Run to the end of the trace (no breakpoint, no filter but the defaults).
    await wb.afterStop('F5', () => wb.press('F5'));
    await wb.expect('continue runs to the end of the trace', async () => /end of the trace/.test(await wb.callStackText()), { seen: () => wb.callStackText() });

    await wb.runCommand('View: Toggle Debug Console', { optional: true });
    if (!(await p.locator('.repl-input-wrapper').isVisible().catch(() => false))) await wb.runCommand('Debug Console: Focus on Debug Console View');
    await p.locator('.repl-input-wrapper').waitFor({ timeout: 15000 });

    let rows = await evaluate(wb, 'gpa(0x400000)');
    wb.check(rows.some((r) => /^0x200000\b/.test(r.trim())), 'gpa(0x400000) = 0x200000 after the guest filled the pte', { seen: rows.slice(-4).join(' | '), missing: 'evaluate in the repl context' });
    rows = await evaluate(wb, 'exits.total');
    wb.check(rows.some((r) => r.trim() === '3'), 'exits.total = 3 under update', { seen: rows.slice(-4).join(' | ') });
    rows = await evaluate(wb, 'exits.totl');
    wb.check(rows.some((r) => /did you mean `total`|total/.test(r) && r.trim() !== '3'), 'a typo gets an error that names `total`', { seen: rows.slice(-2).join(' | ') });
    await wb.shot('06-debug-console');
    await wb.stopDebugging();
  },
};
