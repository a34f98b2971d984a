/** `tunekit report RUN...`: the HTML report of one run, or several side by side (src/report). */
import type { Command } from 'commander';
import { writeReport } from '../report/index.js';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'write the self-contained HTML report of one run folder, or of several runs side by side, with its charts as SVG files',
    )
    .argument('<runs...>', 'run folders (or their run.jsonl files)')
    .option('--out <file>', 'the HTML file (default: <run>/report.html for one run, ./report.html for several)')
    .option('--charts-dir <dir>', 'where the SVG charts go (default: charts/ beside the HTML file)')
    .action(async (runs: string[], opts: { out?: string; chartsDir?: string }) => {
      const r = await writeReport(runs, {
        ...(opts.out !== undefined ? { out: opts.out } : {}),
        ...(opts.chartsDir !== undefined ? { chartsDir: opts.chartsDir } : {}),
      });
      process.stdout.write(`${r.html}\n`);
      process.stderr.write(`${r.charts.length} charts in ${r.chartsDir}\n`);
    });
}
