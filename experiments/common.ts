/**
 * Shared pieces of the experiments: asset paths, a result writer and a small SVG line chart.
 * Experiments read ../shared/assets (research-only data: never shipped) and write experiments/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const assets = process.env.TUNEKIT_SHARED
  ? join(process.env.TUNEKIT_SHARED, 'assets')
  : resolve(repoRoot, '../shared/assets');
export const resultsDir = join(repoRoot, 'experiments', 'results');
export const asset = (...p: string[]): string => join(assets, ...p);

export function writeResult(name: string, value: unknown): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify(value, null, 2) + '\n');
}

export interface Series {
  label: string;
  points: Array<[number, number]>;
}

/** A plain SVG line chart (x: steps, y: a metric), one colour per series. */
export function lineChart(name: string, title: string, yLabel: string, series: Series[]): void {
  const W = 560,
    H = 320,
    L = 60,
    R = 150,
    T = 30,
    B = 40;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  }
  const px = (x: number): number => L + ((x - x0) / Math.max(1e-12, x1 - x0)) * (W - L - R);
  const py = (y: number): number => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="18" text-anchor="middle" font-size="13">${title}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">step</text>`,
    `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${yLabel}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    parts.push(
      `<text x="${L - 4}" y="${py(y) + 4}" text-anchor="end">${y.toFixed(3)}</text><line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`,
    );
    const x = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<text x="${px(x)}" y="${H - B + 14}" text-anchor="middle">${Math.round(x)}</text>`);
  }
  series.forEach((s, i) => {
    const c = colours[i % colours.length]!;
    parts.push(
      `<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
    );
    parts.push(
      `<rect x="${W - R + 10}" y="${T + i * 16}" width="10" height="10" fill="${c}"/><text x="${W - R + 24}" y="${T + i * 16 + 9}">${s.label}</text>`,
    );
  });
  parts.push('</svg>');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.svg`), parts.join('\n') + '\n');
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

export function log(line: string): void {
  process.stdout.write(line + '\n');
}

/** Run the chosen experiments of a table (name -> function), writing each result as results/<name>.json. */
export async function runExperiments(table: Record<string, () => unknown>, names: readonly string[]): Promise<void> {
  for (const n of names) {
    const fn = table[n];
    if (!fn) continue;
    log(`== ${n}`);
    const r = await fn();
    writeResult(n, r);
    log(JSON.stringify(r));
  }
}
