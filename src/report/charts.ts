/**
 * The report's charts as Vega-Lite specs, built from one or more runs (overlaid: one colour per run).
 * Each chart knows how many data points (drawn marks) it holds, so a test or a reader can check that
 * every point was drawn.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { RunData } from './read-run.js';

export interface ChartSpec {
  /** File-safe id: the SVG is charts/<id>.svg. */
  id: string;
  title: string;
  /** Marks drawn: one point per line vertex, one bar per bar. */
  points: number;
  kind: 'line' | 'bar';
  spec: TopLevelSpec;
}

type Row = Record<string, string | number>;

const WIDTH = 420;
const HEIGHT = 220;

function fileSafe(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'chart'
  );
}

function lineChart(id: string, title: string, rows: Row[], y: string, yTitle: string, logY = false): ChartSpec {
  return {
    id,
    title,
    points: rows.length,
    kind: 'line',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: rows },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: y, type: 'quantitative', title: yTitle, scale: logY ? { type: 'log' } : { zero: false } },
        color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 400 } },
      },
    },
  };
}

/** Line charts (loss, learning rate, each evaluation quantity, repetition) and forgetting bars. */
export function buildCharts(runs: readonly RunData[]): ChartSpec[] {
  const many = runs.length > 1;
  const charts: ChartSpec[] = [];
  const stepRows = runs.flatMap((r) => r.steps.map((s) => ({ series: r.label, step: s.step, loss: s.loss, lr: s.lr })));
  if (stepRows.length) {
    charts.push(lineChart('loss', 'Training loss', stepRows, 'loss', 'loss'));
    charts.push(lineChart('learning-rate', 'Learning rate', stepRows, 'lr', 'learning rate'));
  }
  // One chart per evaluation quantity (loss, then each metric), a line per run and split.
  const quantities = [...new Set(runs.flatMap((r) => r.evals.flatMap((e) => ['loss', ...Object.keys(e.metrics)])))];
  const usedIds = new Set(charts.map((c) => c.id));
  const uniqueId = (base: string): string => {
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  for (const q of quantities) {
    const rows: Row[] = [];
    for (const r of runs) {
      for (const e of r.evals) {
        const value = q === 'loss' ? e.loss : e.metrics[q];
        if (value === undefined) continue;
        rows.push({ series: many ? `${r.label} · ${e.split}` : e.split, step: e.step, value });
      }
    }
    charts.push(lineChart(uniqueId(`eval-${fileSafe(q)}`), `Evaluation: ${q}`, rows, 'value', q));
  }
  // The trainer's repetition records (unlabelled): one line per metric over the steps.
  const repRows = runs.flatMap((r) =>
    r.repetition
      .filter((x) => x.label === null)
      .flatMap((x) =>
        Object.entries(x.metrics).map(([m, value]) => ({
          series: many ? `${r.label} · ${m}` : m,
          step: x.step,
          value,
        })),
      ),
  );
  if (repRows.length)
    charts.push(lineChart('repetition', 'Repetition of sampled generations', repRows, 'value', 'value'));
  // Labelled repetition records compare decoding settings (e.g. with and without a repetition
  // penalty): the last record of each label, bars per metric.
  const controlRows: Row[] = [];
  for (const r of runs) {
    const last = new Map<string, Record<string, number>>();
    for (const x of r.repetition) if (x.label !== null) last.set(x.label, x.metrics);
    for (const [label, metrics] of last)
      for (const [metric, value] of Object.entries(metrics))
        controlRows.push({ decoding: many ? `${r.label} · ${label}` : label, metric, value });
  }
  if (controlRows.length) {
    const title = 'Repetition by decoding setting';
    charts.push({
      id: uniqueId('repetition-controls'),
      title,
      points: controlRows.length,
      kind: 'bar',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        title,
        width: WIDTH,
        height: HEIGHT,
        data: { values: controlRows },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'metric', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'decoding', type: 'nominal', sort: null },
          y: { field: 'value', type: 'quantitative', title: 'value' },
          color: {
            field: 'decoding',
            type: 'nominal',
            title: null,
            sort: null,
            legend: { orient: 'bottom', columns: 1 },
          },
        },
      },
    });
  }
  // Forgetting: per measure (perplexity, accuracy, ...), bars before / after / each variant, per run.
  const measures = [
    ...new Set(
      runs.flatMap((r) =>
        r.forgetting.flatMap((f) => [
          ...Object.keys(f.before),
          ...Object.keys(f.after),
          ...f.variants.flatMap((v) => Object.keys(v.after)),
        ]),
      ),
    ),
  ];
  for (const m of measures) {
    const rows: Row[] = [];
    for (const r of runs) {
      r.forgetting.forEach((f, i) => {
        const tag = r.forgetting.length > 1 ? ` #${i + 1}` : '';
        const add = (phase: string, v: number | undefined): void => {
          if (v !== undefined) rows.push({ run: r.label + tag, phase, value: v });
        };
        add('before', f.before[m]);
        add('after', f.after[m]);
        for (const v of f.variants) add(`after (${v.label})`, v.after[m]);
      });
    }
    charts.push({
      id: uniqueId(`forgetting-${fileSafe(m)}`),
      title: `Forgetting: general ${m}`,
      points: rows.length,
      kind: 'bar',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        title: `Forgetting: general ${m}`,
        width: WIDTH,
        height: HEIGHT,
        data: { values: rows },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'phase', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'run', type: 'nominal' },
          y: { field: 'value', type: 'quantitative', title: m },
          color: { field: 'run', type: 'nominal', title: null, legend: { labelLimit: 400 } },
        },
      },
    });
  }
  return charts;
}
