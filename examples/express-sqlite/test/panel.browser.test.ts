/**
 * The panel in a real browser against the real demo: the launcher starts 3 node processes on a
 * temp SQLite file and a free port; Debian's chromium (driven by playwright-core) uses the panel
 * as a person would. Screenshots of each page go to test-artifacts/screenshots/.
 *
 * Without /usr/bin/chromium the suite is skipped with a loud notice, except under CI=true where
 * it fails. Every wait is a Playwright wait or a poll with a deadline, never a sleep.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const shots = join(root, 'test-artifacts/screenshots');
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium) {
  const notice = `\n${'!'.repeat(78)}\n!! ${CHROMIUM} is missing: the panel's browser tests are SKIPPED.\n!! Install it with: apt-get install -y chromium\n${'!'.repeat(78)}\n`;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing and CI=true: install chromium`);
  console.warn(notice);
}

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? ok(address.port) : fail(new Error('no port')),
      );
    });
  });
}

// Skipped only without chromium: warned loudly above (apt-get install -y chromium); .ci/run installs it.
describe.skipIf(!hasChromium)('the panel in chromium against the 3-node demo', () => {
  let launcher: ChildProcess;
  let output = '';
  let dir: string;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'oasis-panel-'));
    const port = await freePort();
    base = `http://localhost:${port}`;
    launcher = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'examples/express-sqlite/src/launcher.ts')],
      {
        cwd: root,
        env: { ...process.env, OASIS_DEMO_DB: join(dir, 'demo.db'), OASIS_DEMO_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await new Promise<void>((ok, fail) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`Open http://localhost:${port}`)) ok();
      };
      launcher.stdout?.on('data', onData);
      launcher.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      launcher.once('exit', (code) =>
        fail(new Error(`the demo exited (${code}) before it was ready:\n${output}`)),
      );
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (launcher !== undefined && launcher.exitCode === null) {
      const exited = new Promise<number | null>((ok) => launcher.once('exit', (code) => ok(code)));
      launcher.kill('SIGTERM');
      const code = await exited;
      // The launcher forwards the signal to its nodes and exits 0 once all of them stopped.
      expect(code, output.slice(-2000)).toBe(0);
      expect(output).toContain('[launcher] all nodes stopped');
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  /** A new page (own context) at a path, with the panel loaded. */
  async function open(path = '/', viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('pageerror', (err) => {
      output += `\n[pageerror] ${err.message}`;
    });
    await page.goto(base + path);
    await page.locator('.oasis-panel .op-who[data-role]:not([data-role=""])').waitFor({ timeout: 30_000 });
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }

  const nav = (page: Page, name: string) =>
    page.getByRole('navigation', { name: 'Oasis panel' }).getByRole('button', { name, exact: true }).click();

  it('shows the dashboard of the 3-node cluster, light, dark and at phone width', async () => {
    const page = await open('/?theme=light');
    await page.locator('.op-card', { hasText: 'Nodes online' }).getByText('3/3').waitFor({ timeout: 30_000 });
    // The host page's loud global styles do not reach the panel's buttons.
    const bg = await page
      .getByRole('button', { name: 'Refresh' })
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).not.toBe('rgb(255, 105, 180)');
    // Some runs have happened: the trend chart has bars with height.
    await expect
      .poll(
        async () =>
          page
            .locator('.op-bar-ok')
            .evaluateAll((els) => els.some((e) => e.getBoundingClientRect().height > 0)),
        { timeout: 30_000 },
      )
      .toBe(true);
    await shot(page, 'dashboard-light');
    await page.context().close();

    const dark = await open('/?theme=dark');
    await dark.locator('.op-card', { hasText: 'Nodes online' }).getByText('3/3').waitFor();
    expect(await dark.locator('.oasis-panel').getAttribute('data-theme')).toBe('dark');
    await shot(dark, 'dashboard-dark');
    await dark.context().close();

    const phone = await open('/', { width: 390, height: 844 });
    await phone.locator('.op-card', { hasText: 'Nodes online' }).getByText('3/3').waitFor();
    // Nothing sticks out sideways at phone width (wide tables scroll inside their own box).
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(phone, 'dashboard-phone');
    await nav(phone, 'Jobs');
    await phone.locator('tr[data-job="heartbeat-5s"]').waitFor();
    await shot(phone, 'jobs-phone');
    await phone.context().close();
  }, 90_000);

  it('creates a cron job through the form, with the next fire times, and sees its runs appear', async () => {
    const page = await open();
    await nav(page, 'Jobs');
    await page.locator('tr[data-job="heartbeat-5s"]').waitFor();
    await shot(page, 'jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    await page.getByLabel('Key', { exact: true }).fill('browser-cron');
    await page.getByLabel('Handler', { exact: true }).fill('tick');
    await page.getByLabel('Cron', { exact: true }).fill('*/2 * * * * *');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByLabel('Description').fill('made by the browser test');
    // The cron helper lists the next 5 fire times of what was typed: 2 s apart (the form's
    // starting cron fires every 10 s, so this waits for the preview of the new one).
    const times = page.getByRole('status', { name: 'Next fire times' }).locator('li');
    const gaps = async () => {
      const seconds = (await times.allTextContents()).map((t) => Date.parse(t.replace(' ', 'T')) / 1000);
      return seconds.slice(1).map((t, i) => t - seconds[i]!);
    };
    await expect.poll(gaps, { timeout: 10_000 }).toEqual([2, 2, 2, 2]);
    await shot(page, 'job-form');
    await page.getByRole('button', { name: 'Create job' }).click();
    await page.locator('tr[data-job="browser-cron"]').waitFor();
    await expect(page.getByRole('status').first().textContent()).resolves.toContain(
      'Created job browser-cron',
    );

    await page.locator('tr[data-job="browser-cron"]').getByRole('button', { name: 'Runs' }).click();
    await page
      .locator('tr[data-job="browser-cron"][data-state="succeeded"]')
      .first()
      .waitFor({ timeout: 30_000 });
    await shot(page, 'runs');
    await page.context().close();
  }, 90_000);

  it('edits a job, copies it (paused) and deletes the copy after confirming', async () => {
    const page = await open();
    await nav(page, 'Jobs');
    const row = page.locator('tr[data-job="browser-cron"]');
    await row.getByRole('button', { name: 'Edit' }).click();
    const cron = page.getByLabel('Cron', { exact: true });
    await expect.poll(() => cron.inputValue()).toBe('*/2 * * * * *');
    await cron.fill('*/3 * * * * *');
    await page.getByRole('button', { name: 'Save' }).click();
    await row.getByText('cron */3 * * * * * (Europe/Paris)').waitFor();

    await row.getByRole('button', { name: 'Copy' }).click();
    const copy = page.getByRole('dialog', { name: 'Copy browser-cron' });
    await copy.getByLabel('New key').fill('browser-cron-copy');
    await copy.getByRole('button', { name: 'Copy' }).click();
    const copied = page.locator('tr.op-job-paused[data-job="browser-cron-copy"]');
    await copied.waitFor();
    await copied.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete browser-cron-copy?' });
    await shot(page, 'job-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await copied.waitFor({ state: 'detached' });
    expect((await page.request.get(`${base}/admin/oasis/jobs/browser-cron-copy`)).status()).toBe(404);
    await page.context().close();
  }, 60_000);

  it('shows the API validation error of a bad cron next to the cron field', async () => {
    const page = await open();
    await nav(page, 'Jobs');
    await page.getByRole('button', { name: 'New job' }).click();
    await page.getByLabel('Key', { exact: true }).fill('bad-cron');
    await page.getByLabel('Handler', { exact: true }).fill('tick');
    const cron = page.getByLabel('Cron', { exact: true });
    await cron.fill('61 * * * *');
    // While typing: the preview route refuses it, shown at the field.
    await expect.poll(() => cron.getAttribute('aria-invalid'), { timeout: 10_000 }).toBe('true');
    const errorId = (await cron.getAttribute('aria-describedby'))!.split(' ')[0]!;
    await expect.poll(() => page.locator(`[id="${errorId}"]`).textContent()).toMatch(/not a valid cron/);
    // On submit: the create route refuses it too, and nothing is created.
    await page.getByRole('button', { name: 'Create job' }).click();
    await expect.poll(() => page.locator(`[id="${errorId}"]`).textContent()).toMatch(/minute: 61/);
    await shot(page, 'job-form-bad-cron');
    const res = await page.request.get(`${base}/admin/oasis/jobs/bad-cron`);
    expect(res.status()).toBe(404);
    await page.context().close();
  }, 60_000);

  it('opens a live log with errors highlighted (a forced failure, params override)', async () => {
    const page = await open();
    await nav(page, 'Jobs');
    await page.locator('tr[data-job="flaky-sync"]').getByRole('button', { name: 'Trigger' }).click();
    const dialog = page.getByRole('dialog', { name: 'Trigger flaky-sync' });
    await dialog.getByLabel('Params for this run (JSON)').fill('{"fail": true}');
    await shot(page, 'trigger-dialog');
    await dialog.getByRole('button', { name: 'Trigger now' }).click();
    await page.getByRole('heading', { name: /^Run #/ }).waitFor();
    await page
      .locator('.op-log li[data-level="error"]', { hasText: 'partner API answered 503' })
      .waitFor({ timeout: 30_000 });
    const bg = await page
      .locator('.op-log li[data-level="error"]')
      .first()
      .evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).toBe('rgb(74, 21, 24)');
    await page.locator('.op-run-head .op-badge', { hasText: /failed|dead/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('alert').filter({ hasText: 'partner API unavailable' }).waitFor();
    await shot(page, 'run-failed-log');
    await page.context().close();
  }, 60_000);

  it('tails the slow job live and cancels it', async () => {
    const page = await open();
    await nav(page, 'Jobs');
    await page.locator('tr[data-job="slow-export"]').getByRole('button', { name: 'Trigger' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Trigger now' }).click();
    await page.getByRole('heading', { name: /^Run #/ }).waitFor();
    // Lines arrive while the run runs (one a second).
    await page.locator('.op-log li', { hasText: 'exporting: 2 s of 120' }).waitFor({ timeout: 30_000 });
    await page.locator('.op-log-status.op-log-live').waitFor();
    await shot(page, 'run-live-log');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('.op-run-head .op-badge', { hasText: 'cancelled' }).waitFor({ timeout: 30_000 });
    await page.locator('.op-log-status', { hasText: 'ended (cancelled)' }).waitFor({ timeout: 30_000 });
    await shot(page, 'run-cancelled');
    await page.context().close();
  }, 60_000);

  it('works from the keyboard: visible focus, buttons, Escape closes a dialog; batch pause and resume', async () => {
    const page = await open();
    let focused = '';
    for (let i = 0; i < 30 && focused !== 'Jobs'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
    }
    expect(focused).toBe('Jobs');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).toBe('solid');
    await page.keyboard.press('Enter');
    await page.locator('tr[data-job="heartbeat-5s"]').waitFor();

    await page.getByLabel('Select report-every-15s').check();
    await page.getByLabel('Select reindex-sharded').check();
    const batch = page.getByRole('toolbar', { name: 'Batch actions' });
    await batch.getByRole('button', { name: 'Delete…' }).click();
    await page.getByRole('dialog', { name: 'Delete 2 jobs?' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await batch.getByRole('button', { name: 'Pause' }).click();
    await page.locator('tr.op-job-paused[data-job="report-every-15s"]').waitFor();
    await page.locator('tr.op-job-paused[data-job="reindex-sharded"]').waitFor();
    await shot(page, 'jobs-batch-paused');
    await batch.getByRole('button', { name: 'Resume' }).click();
    await page.locator('tr:not(.op-job-paused)[data-job="report-every-15s"]').waitFor();
    await page.locator('tr:not(.op-job-paused)[data-job="reindex-sharded"]').waitFor();
    await page.context().close();
  }, 60_000);

  it('drains a node and shows it', async () => {
    const page = await open();
    await nav(page, 'Nodes');
    const row = page.locator('tr[data-node="node-3"]');
    await row.waitFor();
    await page.getByRole('button', { name: 'Drain node-3' }).click();
    // The API records the asked-for state; node-3's engine applies it at its next heartbeat, and
    // the panel, polling, shows the node itself draining (not just the request).
    await page.locator('tr[data-node="node-3"][data-desired="draining"][data-state="draining"]').waitFor({
      timeout: 15_000,
    });
    await row
      .getByText(/draining/)
      .first()
      .waitFor();
    await shot(page, 'nodes-drained');
    await page.getByRole('button', { name: 'Resume node-3' }).click();
    await page.locator('tr[data-node="node-3"][data-desired="active"][data-state="active"]').waitFor({
      timeout: 15_000,
    });
    await nav(page, 'Audit');
    await page.locator('.op-table td', { hasText: 'node.drain' }).first().waitFor();
    await page.locator('.op-table td', { hasText: 'job.create' }).first().waitFor();
    await shot(page, 'audit');
    await page.context().close();
  }, 60_000);

  it('refuses a viewer the write actions, and says so', async () => {
    const page = await open('/?as=viewer');
    expect(await page.locator('.op-who').getAttribute('data-role')).toBe('viewer');
    await page.locator('[data-readonly="true"]').waitFor();
    await nav(page, 'Jobs');
    const row = page.locator('tr[data-job="heartbeat-5s"]');
    await row.waitFor();
    expect(await page.getByRole('button', { name: 'New job' }).isDisabled()).toBe(true);
    for (const name of ['Pause', 'Trigger', 'Edit', 'Delete']) {
      expect(await row.getByRole('button', { name, exact: true }).isDisabled(), name).toBe(true);
    }
    await shot(page, 'viewer-jobs');
    await page.context().close();

    // The server is the judge: a viewer whose panel believes it is an admin is still refused (403),
    // and the panel says the role cannot do this.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const fooled = await context.newPage();
    await fooled.route('**/admin/oasis/me', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ user: 'demo-viewer', role: 'admin', app: 'demo' }),
      }),
    );
    await fooled.goto(`${base}/?as=viewer`);
    await nav(fooled, 'Jobs');
    await fooled
      .locator('tr[data-job="heartbeat-5s"]')
      .getByRole('button', { name: 'Pause', exact: true })
      .click();
    await fooled.locator('[data-auth="forbidden"]', { hasText: 'Your role cannot do this' }).waitFor();
    expect(await fooled.locator('[data-auth="forbidden"]').textContent()).toContain(
      'needs the operator role',
    );
    await shot(fooled, 'viewer-refused');
    // Nothing changed.
    const job = await (await fooled.request.get(`${base}/admin/oasis/jobs/heartbeat-5s`)).json();
    expect(job.enabled).toBe(true);
    await context.close();

    const nobody = await browser.newPage();
    await nobody.goto(`${base}/?as=nobody`);
    await nobody.locator('[data-auth="unauthorized"]', { hasText: 'Sign in required' }).waitFor();
    await shot(nobody, 'signed-out');
    await nobody.close();
  }, 60_000);
});
