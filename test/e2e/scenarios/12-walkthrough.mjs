// 12. The walkthrough: opened from "Welcome: Open Walkthrough...", its first
//     step's button opens the seed's example and the step completes; the
//     second step's button (Run Trace, with the walkthrough in front) runs the
//     example and completes too.
import { norm } from '../lib/workbench.mjs';

const TITLE = 'Shadow paging with mmutrace';

export default {
  id: 12,
  title: 'Walkthrough: open it, complete the first steps',
  timeoutMs: 120000,
  async run(wb) {
    const p = wb.page;
    await wb.runCommand('Welcome: Open Walkthrough...');
    const pick = p.locator('.quick-input-list .monaco-list-row', { hasText: TITLE }).first();
    await wb.expect(`the walkthrough "${TITLE}" is offered`, async () => (await pick.count()) > 0, {
      seen: async () => (await p.locator('.quick-input-list .monaco-list-row').allInnerTexts()).join(' | '),
      missing: 'contributes.walkthroughs',
    });
    await pick.click();
    const page = p.locator('.gettingStartedContainer').first();
    await page.waitFor({ timeout: 20000 });
    const steps = page.locator('.getting-started-step');
    const stepText = async () => (await steps.allInnerTexts()).map(norm).join(' | ');
    await wb.expect('it lists its six steps, open to compare', async () => {
      const t = await stepText();
      return ['Open the seed', 'Run it', 'Debug it', 'Step into the handler', 'Open the MMU Map', 'Compare the policies'].every((s) => t.includes(s));
    }, { seen: stepText });
    const step = (title) => steps.filter({ hasText: title }).first();
    // A step's state, from the walkthrough in sight: its checkbox is `.complete` (the codicon getting-started-item-checked).
    const done = (title) =>
      p.evaluate((t) => {
        const s = [...document.querySelectorAll('.getting-started-step')].find((e) => e.offsetParent !== null && e.innerText.includes(t));
        if (!s) return null;
        return s.classList.contains('complete') || !!s.querySelector('.complete, .codicon-getting-started-item-checked');
      }, title);
    // Back to the walkthrough (a tab switch shows the Welcome page's overview): opened again from the palette.
    const reopen = async () => {
      await wb.runCommand('Welcome: Open Walkthrough...');
      await pick.waitFor({ timeout: 10000 });
      await pick.click();
      await page.waitFor({ timeout: 20000 });
    };
    wb.check((await done("Open the seed's example")) === false, 'the first step is shown, not complete yet');

    await step("Open the seed's example").click();
    const button = step("Open the seed's example").locator('a, .button-link', { hasText: 'Open the example' }).first();
    await button.waitFor({ timeout: 10000 });
    await button.click();
    await wb.expect('its button opens demand-fault.mmutrace', async () => (await p.locator('.tabs-container .tab', { hasText: 'demand-fault.mmutrace' }).count()) > 0, {
      seen: async () => (await p.locator('.tabs-container .tab').allInnerTexts()).join(' | '),
    });
    await reopen();
    await wb.expect('the first step is complete (onCommand:mmutrace.openExample)', () => done("Open the seed's example"), { seen: stepText });

    await step('Run it').click();
    const run = step('Run it').locator('a, .button-link', { hasText: 'Run Trace' }).first();
    await run.waitFor({ timeout: 10000 });
    await run.click();
    await wb.expect('Run Trace from the walkthrough runs the example (the output channel shows its summary: 4 events, mode 64, policy update)', async () => /: 4 events, mode 64, policy update/.test(norm(await p.locator('.part.panel').innerText().catch(() => ''))), {
      seen: async () => norm(await p.locator('.part.panel').innerText().catch(() => '(no panel)')).slice(0, 500),
    });
    await reopen();
    await wb.expect('the second step is complete (onCommand:mmutrace.runTrace)', () => done('Run it'), { seen: stepText });
    await wb.shot('12-walkthrough');
  },
};
