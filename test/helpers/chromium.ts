/**
 * Headless Chromium (Debian `chromium`, driven by playwright-core) for the tests that open pages:
 * the judge web app and the HTML reports.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

/** Launches headless Chromium; playwright-core gives each launch a new, empty --user-data-dir of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** One chart of a report as the page drew it. */
export interface DrawnChart {
  id: string;
  kind: string | undefined;
  /** The number of points the report says the chart holds (`data-points`). */
  points: number;
  svgs: number;
  /** Point marks: bars of a bar chart, symbols of a line chart. */
  marks: number;
  lines: number;
}

/** An HTML report opened offline: requests other than file: and data: are blocked and recorded. */
export interface OpenedReport {
  page: Page;
  /** `document.body.dataset.charts` once the charts finished ('rendered' or an error). */
  status: string | undefined;
  drawn: DrawnChart[];
  /** URLs the page tried to fetch beyond file: and data: (blocked). */
  external: string[];
  pageErrors: string[];
}

/** Opens the report file `html` in a new context of `browser` and waits for its charts. Close `page.context()` after. */
export async function openReport(
  browser: Browser,
  html: string,
  viewport?: { width: number; height: number },
): Promise<OpenedReport> {
  const page = await (await browser.newContext(viewport ? { viewport } : {})).newPage();
  const external: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(pathToFileURL(html).href);
  await page.waitForFunction(() => document.body.dataset.charts !== undefined, undefined, { timeout: 20_000 });
  const status = await page.evaluate(() => document.body.dataset.charts);
  const drawn = await page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('div.chart')].map((d) => ({
      id: d.dataset.chart ?? '',
      kind: d.dataset.kind,
      points: Number(d.dataset.points),
      svgs: d.querySelectorAll('svg').length,
      marks: d.querySelectorAll(
        d.dataset.kind === 'bar' ? 'g.mark-rect.role-mark path' : 'g.mark-symbol.role-mark path',
      ).length,
      lines: d.querySelectorAll('g.mark-line.role-mark path').length,
    })),
  );
  return { page, status, drawn, external, pageErrors };
}
