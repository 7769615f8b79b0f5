// 7. Compare Policies: 3 exits from @fault under zap against 2 under update (and access), 1 under tdp.
import { norm } from '../lib/workbench.mjs';

export default {
  id: 7,
  title: 'Compare Policies: 3, 2, 2 and 1 from @fault',
  async run(wb) {
    const p = wb.page;
    await wb.runCommand('View: Show Explorer');
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    // The panel (left open by an earlier scenario) closed, for the picture.
    if (!(await wb.runCommand('View: Hide Panel', { optional: true }))) await wb.runCommand('View: Close Panel', { optional: true });
    await wb.runCommand('mmutrace: Compare Policies');
    const tab = p.locator('.tabs-container .tab', { hasText: 'policies' });
    await wb.expect('a "(policies)" editor opens', async () => (await tab.count()) > 0, { seen: async () => (await p.locator('.tabs-container .tab').allInnerTexts()).join(' | '), missing: 'the Compare Policies command' });
    const view = p.locator('.editor-group-container', { has: p.locator('.tab.active', { hasText: 'policies' }) }).locator('.monaco-editor .view-lines').first();
    const text = async () => norm(await view.innerText());
    await wb.expect('the table has the columns zap, update, access and tdp', async () => /^\s+zap\s+update\s+access\s+tdp\s*$/m.test(await text()), { seen: text });
    await wb.expect('from @fault: 3 exits under zap, 2 under update and access, 1 under tdp', async () => /from @fault\s+3\s+2\s+2\s+1\s*$/m.test(await text()), { seen: text });
    await wb.expect('VM exits in all: 4, 3, 3 and 6 (tdp: 5 first touches, then the new page)', async () => /^VM exits\s+4\s+3\s+3\s+6\s*$/m.test(await text()), { seen: text });
    await wb.shot('07-compare-policies');
  },
};
