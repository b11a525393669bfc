/**
 * The before/after page in a real browser: Debian's Chromium, driven by playwright-core (no
 * browser is downloaded). Every card's images load, the slider moves the line, a failed photo
 * says why, and the page is usable by keyboard.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import * as fx from './fixtures.js';
import { ALBUM, cleanup, runCli, tempDir } from './helpers.js';

let browser: Browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await cleanup();
});

/** Where the page's screenshot is kept for a person to look at (set DDCOLOR_SCREENSHOT to keep it elsewhere). */
const SHOT = process.env.DDCOLOR_SCREENSHOT;

test('the before/after page: every image loads, the slider moves the line, a failed photo says why', async () => {
  const dir = await tempDir();
  const src = join(dir, 'album');
  await mkdir(join(src, 'family'), { recursive: true });
  for (const f of ['cameraman.png', 'coins.png', 'family/cat.jpg']) await copyFile(join(ALBUM, f), join(src, f));
  await fx.truncatedJpeg(join(src, 'torn.jpg'));
  const out = join(dir, 'out');
  const r = await runCli(['colorize', src, '-o', out, '--model', 'tiny-test', '--size', '128', '--cache', 'none', '--html', '--no-progress']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, new RegExp(`Before/after page: file://${join(out, 'index.html')}`));
  assert.equal((await readdir(join(out, '.ddcolor-thumbs'))).length, 6, 'a before and an after thumbnail for each good photo');

  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(`file://${join(out, 'index.html')}`);
  const cards = page.locator('li.card');
  assert.equal(await cards.count(), 4);
  assert.match((await page.locator('.totals').textContent()) ?? '', /4 photos · 3 inferred · 0 from cache · 0 up to date · 1 failed/);
  // The test model only tints: the page says so instead of "Colorized photos".
  assert.equal(await page.locator('h1').textContent(), "Photos through ddcolor's test model (tints photos sepia; does not colorize)");
  // Every image of every card loads (lazily, once scrolled to).
  const images = page.locator('li.card img');
  assert.equal(await images.count(), 6);
  for (let i = 0; i < 6; i++) {
    const img = images.nth(i);
    await img.scrollIntoViewIfNeeded();
    await page.waitForFunction(
      (el) => {
        const image = el as unknown as { complete: boolean; naturalWidth: number };
        return image.complete && image.naturalWidth > 0;
      },
      await img.elementHandle(),
      { timeout: 10_000 },
    );
    assert.ok(((await img.getAttribute('alt')) ?? '').length > 0, 'alt text');
  }
  // The failed photo says why, and names the file.
  const failed = page.locator('li.card.failed');
  assert.equal(await failed.count(), 1);
  assert.match((await failed.locator('.error').textContent()) ?? '', /torn\.jpg: /);
  // The slider, by keyboard: the line moves and what is shown changes.
  const first = cards.first();
  await first.scrollIntoViewIfNeeded();
  const shotBefore = await first.locator('.compare').screenshot();
  const slider = first.locator('input[type=range]');
  assert.match((await slider.getAttribute('aria-label')) ?? '', /original \(left\) and the colorized photo \(right\)/);
  await slider.focus();
  for (let k = 0; k < 30; k++) await page.keyboard.press('ArrowRight');
  assert.equal(await slider.inputValue(), '80');
  assert.equal(await first.locator('img.after').evaluate((el) => (el as unknown as { style: { clipPath: string } }).style.clipPath), 'inset(0px 0px 0px 80%)');
  const shotAfter = await first.locator('.compare').screenshot();
  assert.notDeepEqual(shotAfter, shotBefore, 'moving the slider changes what is shown');
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: SHOT ?? join(dir, 'page.png'), fullPage: true });
  await page.close();

  // A re-run updates the page and reuses the thumbnails.
  const again = await runCli(['colorize', src, '-o', out, '--model', 'tiny-test', '--size', '128', '--cache', 'none', '--html', '--no-progress']);
  assert.equal(again.code, 1);
  assert.equal((await readdir(join(out, '.ddcolor-thumbs'))).length, 6);
  const page2 = await browser.newPage();
  await page2.goto(`file://${join(out, 'index.html')}`);
  assert.match((await page2.locator('.totals').textContent()) ?? '', /4 photos · 0 inferred · 0 from cache · 3 up to date · 1 failed/);
  // Each card says why in words: up to date, not a bare "skipped".
  const words = await page2.locator('li.card .status').allTextContents();
  assert.deepEqual(words.sort(), ['failed', 'skipped: up to date', 'skipped: up to date', 'skipped: up to date']);
  assert.match((await page2.locator('.totals').textContent()) ?? '', /model tint(y-test)? \([0-9a-f]{16}\)|model ddcolor-tiny-test \([0-9a-f]{16}\)/);
  await page2.close();
  // A run without --html leaves the page as it is and says it is from an earlier run.
  const plain = await runCli(['colorize', src, '-o', out, '--model', 'tiny-test', '--size', '128', '--cache', 'none', '--no-progress']);
  assert.match(plain.stderr, new RegExp(`${join(out, 'index.html')} shows an earlier run: pass --html to bring it up to date`));
});

test('photos named like links or markup are files on the page: "open" goes to the file, nothing runs', async () => {
  const dir = await tempDir();
  const src = join(dir, 'album');
  await mkdir(src, { recursive: true });
  const names = ['javascript:alert(3).png', '<img src=x onerror=alert(1)>.png', 'what?#now.png'];
  for (const n of names) await copyFile(join(ALBUM, 'cameraman.png'), join(src, n));
  const out = join(dir, 'out');
  const r = await runCli(['colorize', src, '-o', out, '--model', 'tiny-test', '--size', '64', '--cache', 'none', '--html', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`file://${join(out, 'index.html')}`);
  const links = page.locator('li.card a');
  assert.equal(await links.count(), names.length);
  for (let i = 0; i < names.length; i++) {
    const link = links.nth(i);
    const href = (await link.getAttribute('href')) ?? '';
    assert.ok(href.startsWith('./'), `relative: ${href}`);
    const resolved = await link.evaluate((a) => (a as unknown as { href: string }).href);
    const name = (await page.locator('li.card .name').nth(i).textContent()) ?? '';
    assert.ok(names.includes(name), `the name is shown as text: ${name}`);
    assert.equal(decodeURIComponent(new URL(resolved).pathname), join(out, name), 'the link is the output file');
  }
  // Clicking the worst one opens the file; no script runs.
  const js = links.nth((await page.locator('li.card .name').allTextContents()).indexOf(names[0]!));
  await js.click();
  await page.waitForLoadState();
  assert.equal(decodeURIComponent(new URL(page.url()).pathname), join(out, names[0]!));
  assert.deepEqual(dialogs, [], 'no script ran');
  await page.close();
});
