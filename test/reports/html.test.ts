import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERDICTS } from '../../harness/report-schema.js';
import { esc, htmlWriter, renderHtml } from '../../reports/html.js';
import { fixedRunModel, HOSTILE_BANNER } from './fixed-run-model.js';

/** Debian's Chromium (scripts/install-peers.sh): `npx playwright install` downloads a browser, which fails offline. */
const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium dials Google at start-up; on a closed network
// those connections fail, and they would also show up as requests this page did not make.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const run = fixedRunModel();
const camera = run.report.targets.find((t) => t.id === 'weak-camera');
const banner = run.evidence.find((r) => r.target === 'weak-camera' && r.kind === 'banner' && r.port === 23);
/** A FAIL of the camera whose drill-down holds the hostile telnet banner. */
const fail = camera?.verdicts.find((v) => v.verdict === 'FAIL' && banner !== undefined && v.evidence.includes(banner.id));

let dir: string;
let context: BrowserContext;
let page: Page;
let pageUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run bash scripts/install-peers.sh (Debian package chromium)`);
  dir = mkdtempSync(join(tmpdir(), 'html-report-'));
  expect(await htmlWriter.write(run, dir)).toEqual(['report.html']);
  pageUrl = pathToFileURL(join(dir, 'report.html')).href;
  context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  // On the context, not the page: a request from any frame or worker the page might start counts too.
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  await page.goto(pageUrl, { waitUntil: 'load' });
});

afterAll(async () => {
  await context?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('html writer in headless Chromium', () => {
  it('the fixture has what the drill-down test needs', () => {
    expect(banner?.received?.text).toContain('<script>');
    expect(fail).toBeDefined();
  });

  it('renders: a screenshot is a non-empty PNG of the page', async () => {
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: false });
    const png = readFileSync(shot);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 900]);
    expect(png.length).toBeGreaterThan(10_000);
    await expect(page.title()).resolves.toBe('iot-harness report fixture-run-0001');
  });

  it('shows the verdict counts of the report, run-wide, per target and per scheme', async () => {
    const all = run.report.targets.flatMap((t) => t.verdicts);
    for (const v of VERDICTS) {
      const n = all.filter((x) => x.verdict === v).length;
      expect(await page.getByTestId(`verdict-count-${v}`).textContent(), v).toBe(String(n));
      expect(await page.locator(`details.verdict[data-verdict="${v}"]`).count(), v).toBe(n);
    }
    for (const t of run.report.targets) {
      const section = page.locator(`section.target[data-target="${t.id}"]`);
      for (const v of VERDICTS) {
        expect(await section.getByTestId(`target-verdict-count-${v}`).textContent(), `${t.id} ${v}`).toBe(String(t.verdicts.filter((x) => x.verdict === v).length));
        for (const label of t.labels) {
          const n = t.verdicts.filter((x) => x.scheme === label.scheme && x.verdict === v).length;
          expect(await section.locator(`table.labels tr[data-scheme="${label.scheme}"]`).getByTestId(`scheme-verdict-count-${v}`).textContent()).toBe(String(n));
        }
      }
      expect(await section.locator('table.services tbody tr').count()).toBe(t.services.length);
    }
  });

  it('shows label readiness per scheme, with the CLS level and the blocking provisions', async () => {
    const cls = camera?.labels.find((l) => l.scheme === 'sg-cls');
    const label = page.locator('section.target[data-target="weak-camera"] section.scheme[data-scheme="sg-cls"] [data-testid="label-readiness"]');
    await expect(label.getAttribute('data-level')).resolves.toBe(String(cls?.level));
    await expect(label.getAttribute('data-ready')).resolves.toBe(String(cls?.ready));
    expect(await label.locator('a.blocking').allTextContents()).toEqual(cls?.blocking);
    expect(await label.textContent()).toContain('no level reached');
  });

  it('lists FAIL first in each scheme and keeps NOT_ASSESSED collapsed', async () => {
    const entries = await page.locator('section.target[data-target="weak-camera"] section.scheme[data-scheme="etsi-en-303-645"] details.verdict').all();
    const order = await Promise.all(entries.map((e) => e.getAttribute('data-verdict')));
    expect(order[0]).toBe('FAIL');
    const rank = order.map((v) => ['FAIL', 'INCONCLUSIVE', 'PASS', 'NOT_APPLICABLE', 'NOT_ASSESSED'].indexOf(v ?? ''));
    expect(rank).toEqual([...rank].sort((a, b) => a - b));
    const groups = page.getByTestId('not-assessed-group');
    expect(await groups.count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="not-assessed-group"][open]').count()).toBe(0);
    await expect(page.locator('details.verdict[data-verdict="NOT_ASSESSED"]').first().isVisible()).resolves.toBe(false);
    await expect(page.locator('details.verdict[data-verdict="FAIL"] .rationale').first().isVisible()).resolves.toBe(true);
  });

  it('opens a FAIL drill-down on click: its observations and the raw evidence text, with hashes', async () => {
    if (!fail || !banner?.received) throw new Error('fixture');
    const details = page.locator(`section.target[data-target="weak-camera"] details.verdict[data-verdict="FAIL"][data-scheme="${fail.scheme}"][data-provision="${fail.provision}"]`);
    const slot = details.locator(`.slot[data-evidence-ref="${banner.id}"]`);
    await expect(slot.isVisible()).resolves.toBe(false);
    await details.locator('summary').first().click();
    await expect(details.getAttribute('open')).resolves.toBe('');
    await slot.locator('pre.received').waitFor({ state: 'visible' });
    // The bytes exactly as evidence.jsonl escaped them: \xNN for the telnet negotiation, CR kept.
    expect(await slot.locator('pre.received').textContent()).toBe(banner.received.text);
    const text = await slot.innerText();
    expect(text).toContain(banner.received.sha256);
    expect(text).toContain(banner.hash);
    expect(text).toContain(`banner: ${HOSTILE_BANNER}`);
    expect(await details.locator('li.observation').count()).toBe(fail.observations.length);
    expect(await details.locator('.slot').count()).toBe(fail.evidence.length);
  });

  it('opens the record a followed evidence link points to', async () => {
    const link = page.locator('section.target[data-target="weak-camera"] details.verdict[open] li.observation a').first();
    const id = (await link.getAttribute('href'))?.slice(1) ?? '';
    await link.click();
    await expect(page.locator(`[id="${id}"]`).getAttribute('open')).resolves.toBe('');
  });

  it('shows the <script> banner as text: nothing of it runs or loads', async () => {
    // Both payloads of the banner would set it: the <script> and the <img onerror>.
    await expect(page.evaluate('typeof window.__pwned')).resolves.toBe('undefined');
    await expect(page.locator('script').count()).resolves.toBe(1);
    await expect(page.locator('img').count()).resolves.toBe(0);
    expect(await page.locator(`[id="record--${banner?.id ?? ''}"] .ev-summary`).textContent()).toBe(`banner: ${HOSTILE_BANNER}`);
    const observations = await page.locator('section.target[data-target="weak-camera"] li.observation').allTextContents();
    expect(observations.some((t) => t.includes(JSON.stringify(HOSTILE_BANNER).slice(1, -1)))).toBe(true);
  });

  it('makes no request but the file itself', () => {
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => u !== pageUrl)).toEqual([]);
  });
});

describe('html writer output', () => {
  it('is one self-contained file: no external reference, a policy that allows only its own style and script', () => {
    const html = renderHtml(run);
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:|\/\/)/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-/);
    expect(html).not.toContain(HOSTILE_BANNER);
    expect(html).toContain(esc(HOSTILE_BANNER));
  });

  it('is the same page for the same run model', () => {
    expect(renderHtml(fixedRunModel())).toBe(renderHtml(run));
  });
});
