/**
 * The report as one self-contained HTML file: the Vega, Vega-Lite and vega-embed builds are inlined
 * (read from node_modules at report time), so it opens with no network. Every string taken from a
 * run log is HTML-escaped; the chart specs travel as JSON in a non-executed script element with `<`
 * escaped, so no log text can close it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ChartSpec } from './charts.js';
import type { EvalPoint, RunData, SampleItem, SamplesAt } from './read-run.js';

const require = createRequire(import.meta.url);

/** The browser builds inlined into the report, in load order. */
const LIBRARIES: ReadonlyArray<[pkg: string, file: string]> = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
];

/** A package's folder (its "exports" hide the browser builds from require.resolve). */
function packageDir(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg)
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`report: cannot find the folder of the "${pkg}" package`);
    dir = up;
  }
}

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that is safe inside a <script> element (no `<`, so no `</script>`; U+2028/9 escaped). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function inlineLibrary([pkg, file]: readonly [string, string]): string {
  const spec = `${pkg}/${file}`;
  const code = readFileSync(join(packageDir(pkg), file), 'utf8');
  // A build never holds "</script", but check rather than break the page silently.
  if (/<\/script/i.test(code)) throw new Error(`report: ${spec} contains "</script" and cannot be inlined`);
  return `<script>/* ${spec} */\n${code}\n</script>`;
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '';
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(3) : x.toFixed(4);
}

function withCi(e: EvalPoint, name: string, value: number): string {
  const ci = e.ci[name];
  return ci ? `${fmt(value)} <span class="ci">[${fmt(ci[0])}, ${fmt(ci[1])}]</span>` : fmt(value);
}

/** The last evaluation of each split. */
function finalEvals(run: RunData): EvalPoint[] {
  const last = new Map<string, EvalPoint>();
  for (const e of run.evals) last.set(e.split, e);
  return [...last.values()];
}

function metricsTable(runs: readonly RunData[]): string {
  const cols = [
    ...new Set(
      runs.flatMap((r) =>
        finalEvals(r).flatMap((e) => ['loss', ...Object.keys(e.metrics)].map((m) => `${e.split} ${m}`)),
      ),
    ),
  ];
  const head = ['run', 'steps', 'end', 'final train loss', 'best', ...cols]
    .map((c) => `<th>${escapeHtml(c)}</th>`)
    .join('');
  const rows = runs.map((r) => {
    const cells = new Map<string, string>();
    for (const e of finalEvals(r)) {
      // An evaluation of the starting model (step 0) is shown beside the final one: before -> after.
      const start = e.step > 0 ? r.evals.find((x) => x.split === e.split && x.step === 0) : undefined;
      const cell = (m: string, v: number, before: number | undefined): string =>
        start && before !== undefined
          ? `${withCi(e, m, v)}<br><span class="before">step 0: ${withCi(start, m, before)}</span>`
          : withCi(e, m, v);
      cells.set(`${e.split} loss`, cell('loss', e.loss, start?.loss));
      for (const [m, v] of Object.entries(e.metrics)) cells.set(`${e.split} ${m}`, cell(m, v, start?.metrics[m]));
    }
    const end = r.end
      ? `${escapeHtml(r.end.reason)}${r.end.elapsedSec !== null ? ` (${fmt(r.end.elapsedSec)} s)` : ''}`
      : r.errors.length
        ? 'error'
        : 'unfinished';
    const best = r.end?.best
      ? `${escapeHtml(r.end.best.metric)} ${fmt(r.end.best.value)} @ step ${r.end.best.step}`
      : '';
    return `<tr><td>${escapeHtml(r.label)}</td><td>${r.steps.at(-1)?.step ?? 0}</td><td>${end}</td><td>${fmt(r.steps.at(-1)?.loss)}</td><td>${best}</td>${cols.map((c) => `<td>${cells.get(c) ?? ''}</td>`).join('')}</tr>`;
  });
  return (
    `<table class="metrics"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>` +
    (runs.some((r) => r.evals.some((e) => Object.keys(e.ci).length))
      ? '<p class="note">Brackets: bootstrap 95% confidence interval.</p>'
      : '')
  );
}

function configSection(run: RunData): string {
  if (!run.config) return '<p>No config record.</p>';
  const { type: _t, time, ...rest } = run.config;
  return `<p>Started ${escapeHtml(typeof time === 'string' ? time : JSON.stringify(time ?? ''))}</p><pre class="config">${escapeHtml(JSON.stringify(rest, null, 2))}</pre>`;
}

function samplesTable(title: string, items: readonly SampleItem[]): string {
  const hasRef = items.some((it) => it.reference !== undefined);
  const rows = items.map(
    (it) =>
      `<tr><td><pre>${escapeHtml(it.prompt)}</pre></td><td><pre>${escapeHtml(it.output)}</pre></td>${hasRef ? `<td><pre>${escapeHtml(it.reference ?? '')}</pre></td>` : ''}</tr>`,
  );
  return `<h3>${escapeHtml(title)}</h3><table class="samples"><thead><tr><th>prompt</th><th>output</th>${hasRef ? '<th>reference</th>' : ''}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The trainer's last samples, then the last samples of each labelled decoding setting. */
function samplesSection(run: RunData): string {
  const parts: string[] = [];
  const last = run.samples.filter((s) => s.label === null).at(-1);
  if (last) parts.push(samplesTable(`Sample generations (step ${last.step})`, last.items));
  const byLabel = new Map<string, SamplesAt>();
  for (const s of run.samples) if (s.label !== null) byLabel.set(s.label, s);
  for (const [label, s] of byLabel) parts.push(samplesTable(`Generations: ${label} (step ${s.step})`, s.items));
  return parts.join('');
}

/** The trainer's last repetition record, and one column per labelled decoding setting. */
function repetitionSection(run: RunData): string {
  const cols: Array<[string, Record<string, number>]> = [];
  const last = run.repetition.filter((x) => x.label === null).at(-1);
  if (last) cols.push([`sampled at step ${last.step}`, last.metrics]);
  const byLabel = new Map<string, Record<string, number>>();
  for (const x of run.repetition) if (x.label !== null) byLabel.set(x.label, x.metrics);
  cols.push(...byLabel);
  if (!cols.length) return '';
  const metrics = [...new Set(cols.flatMap(([, m]) => Object.keys(m)))];
  const head = cols.map(([c]) => `<th>${escapeHtml(c)}</th>`).join('');
  const rows = metrics.map(
    (m) => `<tr><td>${escapeHtml(m)}</td>${cols.map(([, v]) => `<td>${fmt(v[m])}</td>`).join('')}</tr>`,
  );
  return `<h3>Repetition</h3><table><thead><tr><th></th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function forgettingSection(run: RunData): string {
  return run.forgetting
    .map((f) => {
      const measures = [
        ...new Set([
          ...Object.keys(f.before),
          ...Object.keys(f.after),
          ...f.variants.flatMap((v) => Object.keys(v.after)),
        ]),
      ];
      const cols = ['before', 'after', ...f.variants.map((v) => `after (${v.label})`)];
      const vals = [f.before, f.after, ...f.variants.map((v) => v.after)];
      const rows = measures.map(
        (m) => `<tr><td>${escapeHtml(m)}</td>${vals.map((v) => `<td>${fmt(v[m])}</td>`).join('')}</tr>`,
      );
      return `<h3>Forgetting on ${escapeHtml(f.general)}</h3><table><thead><tr><th></th>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
    })
    .join('');
}

function errorsSection(run: RunData): string {
  return run.errors
    .map((e) => `<p class="error">Error${e.step !== null ? ` at step ${e.step}` : ''}: ${escapeHtml(e.message)}</p>`)
    .join('');
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{min-width:480px;min-height:260px}.ci{color:#666;font-size:.9em}.before{color:#666;font-size:.85em}
pre{margin:0;white-space:pre-wrap;max-width:60em}pre.config{background:#f6f6f6;padding:.5em;max-height:30em;overflow:auto}
.runs{display:flex;flex-wrap:wrap;gap:2em}.run{flex:1;min-width:28em}.error{color:#b00}.note{color:#666}`;

/** Render the HTML page for these runs and charts. */
export function renderReportHtml(
  runs: readonly RunData[],
  charts: readonly ChartSpec[],
  generated = new Date(),
): string {
  const title = `tunekit report: ${runs.map((r) => r.label).join(', ')}`;
  const chartDivs = charts
    .map(
      (c, i) =>
        `<div class="chart" id="chart-${i}" data-chart="${escapeHtml(c.id)}" data-kind="${c.kind}" data-points="${c.points}"></div>`,
    )
    .join('\n');
  const perRun = runs
    .map(
      (r) =>
        `<section class="run"><h2>${escapeHtml(r.label)}</h2>${errorsSection(r)}<h3>Config</h3>${configSection(r)}${samplesSection(r)}${repetitionSection(r)}${forgettingSection(r)}</section>`,
    )
    .join('\n');
  const boot = `<script>
(async () => {
  const specs = JSON.parse(document.getElementById('chart-specs').textContent);
  try {
    await Promise.all(specs.map((s, i) => vegaEmbed('#chart-' + i, s, { renderer: 'svg', actions: false })));
    document.body.dataset.charts = 'rendered';
  } catch (e) {
    document.body.dataset.charts = 'error: ' + e;
  }
})();
</script>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style>
${LIBRARIES.map(inlineLibrary).join('\n')}
</head><body>
<h1>${escapeHtml(title)}</h1>
<p class="note">Generated ${escapeHtml(generated.toISOString())} from ${runs.map((r) => `<code>${escapeHtml(r.file)}</code>`).join(', ')}</p>
<h2>Final metrics</h2>
${metricsTable(runs)}
<h2>Charts</h2>
<div class="charts">
${chartDivs}
</div>
<div class="runs">
${perRun}
</div>
<script type="application/json" id="chart-specs">${scriptJson(charts.map((c) => c.spec))}</script>
${boot}
</body></html>
`;
}
