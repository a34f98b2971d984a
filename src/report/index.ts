/**
 * Run reports (docs/run-log.md): run.jsonl -> one self-contained HTML file, with its charts also
 * saved as SVG files (Vega's headless renderer) and PNG files (the SVG rasterised by resvg).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { buildCharts, type ChartSpec } from './charts.js';
import { renderReportHtml } from './html.js';
import { readRuns, type RunData } from './read-run.js';

export { buildCharts, type ChartSpec } from './charts.js';
export { escapeHtml, renderReportHtml } from './html.js';
export { readRun, readRuns, runLogPath, type RunData } from './read-run.js';

/** A chart drawn headless (no browser) as an SVG document. */
export async function chartToSvg(chart: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(chart.spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * An SVG chart rasterised to PNG by resvg (twice the SVG's size, white background). Vega's SVG asks
 * for generic font families; resvg resolves them to installed system fonts.
 */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

export interface ReportOptions {
  /** The HTML file (default: <run>/report.html for one run, ./report.html for several). */
  out?: string;
  /** Where the SVG and PNG charts go (default: charts/ beside the HTML file). */
  chartsDir?: string;
}

export interface ReportResult {
  html: string;
  chartsDir: string;
  /** Each chart: its SVG `file`, its PNG `png`, the marks it draws and their kind. */
  charts: Array<{ id: string; file: string; png: string; points: number; kind: ChartSpec['kind'] }>;
  runs: RunData[];
}

/** Write `path` whole: a temporary file renamed over it. */
function writeWhole(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Read the runs, write the HTML report and the charts as SVG and PNG files. */
export async function writeReport(runPaths: readonly string[], opts: ReportOptions = {}): Promise<ReportResult> {
  const runs = readRuns(runPaths);
  const first = runs[0];
  if (!first) throw new Error('report: give at least one run folder or run.jsonl');
  const html = resolve(opts.out ?? (runs.length === 1 ? join(first.dir, 'report.html') : 'report.html'));
  const chartsDir = resolve(opts.chartsDir ?? join(dirname(html), 'charts'));
  const charts = buildCharts(runs);
  mkdirSync(dirname(html), { recursive: true });
  // The charts folder is written whole: drawn into a temporary folder, then swapped in.
  const tmpCharts = `${chartsDir}.tmp-${process.pid}`;
  rmSync(tmpCharts, { recursive: true, force: true });
  mkdirSync(tmpCharts, { recursive: true });
  const files: ReportResult['charts'] = [];
  try {
    for (const c of charts) {
      const svg = await chartToSvg(c);
      writeFileSync(join(tmpCharts, `${c.id}.svg`), svg);
      writeFileSync(join(tmpCharts, `${c.id}.png`), svgToPng(svg));
      files.push({
        id: c.id,
        file: join(chartsDir, `${c.id}.svg`),
        png: join(chartsDir, `${c.id}.png`),
        points: c.points,
        kind: c.kind,
      });
    }
    rmSync(chartsDir, { recursive: true, force: true });
    renameSync(tmpCharts, chartsDir);
  } catch (e) {
    rmSync(tmpCharts, { recursive: true, force: true });
    throw e;
  }
  writeWhole(html, renderReportHtml(runs, charts));
  return { html, chartsDir, charts: files, runs };
}
