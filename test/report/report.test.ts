/**
 * Reports from a real tiny train() run: chart specs hold every logged point, log text is escaped,
 * bad lines are named, and in headless Chromium (Debian's /usr/bin/chromium via playwright-core)
 * every chart draws one mark per point with no network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/train/trainer.js';
import { causalLmLossFn, collateCausalLm, type CausalLmBatch, type LmExample } from '../../src/train/collate.js';
import { RunLog } from '../../src/train/run-log.js';
import { buildCharts, readRun, writeReport } from '../../src/report/index.js';
import { tinyExamples, tinyLlama } from '../train/helpers.js';
import { CHROMIUM, launchChromium, openReport } from '../helpers/chromium.js';

const INJECTED = '<script>window.pwned = 1</script>';

/** A real run: 6 steps, evaluation every 3 (with a metric and samples), then forgetting and a test eval with CIs appended. */
function realRun(dir: string, seed: number): void {
  const model = tinyLlama(seed);
  model.freeze(false);
  const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });
  train({
    model,
    args: {
      batchSize: 4,
      maxSteps: 6,
      learningRate: 2e-2,
      warmupSteps: 2,
      evalEvery: 3,
      outDir: dir,
      progress: 'none',
      seed,
    },
    train: tinyExamples(16),
    valid: tinyExamples(4, 9),
    collate,
    loss: causalLmLossFn(),
    metrics: () => ({ 'token-accuracy': 0.25 + seed / 100 }),
    sample: () => [
      {
        prompt: INJECTED,
        output: `ok </pre><img src=x onerror="window.pwned=2">`,
        reference: '"quoted" & <b>',
        tokens: [3, 4, 5, 3, 4, 5],
      },
      { prompt: 'two', output: 'three four', tokens: [6, 7, 8, 9] },
    ],
  });
  const log = new RunLog(join(dir, 'run.jsonl'));
  // The trainer does not write these two kinds yet (the eval command and the demo will).
  log.write('eval', {
    step: 6,
    split: 'test',
    loss: 2.5,
    metrics: { 'token-accuracy': 0.3 },
    ci: { 'token-accuracy': [0.2, 0.4] },
  });
  log.write('forgetting', {
    general: `wiki ${INJECTED}`,
    before: { perplexity: 20 },
    after: { perplexity: 24 },
    variants: [{ label: 'replay', after: { perplexity: 21 } }],
  });
  log.write('from-the-future' as never, { anything: 1 });
  log.close();
}

test('report: a real run.jsonl -> charts with every point, escaped text, SVG files; several runs side by side; Chromium draws every mark', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tunekit-report-'));
  try {
    const a = join(root, 'run-a');
    const b = join(root, 'run-b');
    realRun(a, 3);
    realRun(b, 4);

    const run = readRun(a);
    assert.equal(run.steps.length, 6);
    assert.deepEqual(
      run.evals.map((e) => [e.step, e.split]),
      [
        [3, 'valid'],
        [6, 'valid'],
        [6, 'test'],
      ],
    );
    assert.equal(run.end?.reason, 'max-steps');
    const charts = buildCharts([run]);
    const byId = new Map(charts.map((c) => [c.id, c]));
    const values = (id: string): unknown[] => {
      const c = byId.get(id);
      assert.ok(c, `chart ${id} among ${[...byId.keys()].join(', ')}`);
      const data = c.spec.data as { values: unknown[] };
      assert.equal(data.values.length, c.points);
      return data.values;
    };
    assert.equal(values('loss').length, 6);
    assert.equal(values('learning-rate').length, 6);
    assert.equal(values('eval-loss').length, 3); // valid @3, @6, test @6
    assert.equal(values('eval-token-accuracy').length, 3);
    const repMetrics = Object.keys(run.repetition[0]?.metrics ?? {}).length;
    assert.ok(repMetrics >= 2);
    assert.equal(values('repetition').length, 2 * repMetrics); // two evaluations
    assert.equal(values('forgetting-perplexity').length, 3); // before, after, after (replay)

    const one = await writeReport([a]);
    assert.equal(one.html, join(a, 'report.html'));
    const html = readFileSync(one.html, 'utf8');
    assert.ok(!html.includes(INJECTED), 'the injected <script> appears only escaped');
    assert.ok(html.includes('&lt;script&gt;window.pwned = 1&lt;/script&gt;'));
    assert.ok(!html.includes('<img src=x'));
    assert.ok(html.includes('0.3000 <span class="ci">[0.2000, 0.4000]</span>'), 'final metric with its CI');
    assert.ok(!/<script[^>]+src=/.test(html) && !/<link[^>]+href=/.test(html), 'no external script or stylesheet');
    assert.deepEqual(
      readdirSync(join(a, 'charts')).sort(),
      charts.flatMap((c) => [`${c.id}.png`, `${c.id}.svg`]).sort(),
    );
    for (const c of one.charts) {
      const svg = readFileSync(c.file, 'utf8');
      assert.ok(svg.startsWith('<svg'), c.file);
      assert.ok(svg.includes(c.kind === 'bar' ? 'mark-rect' : 'mark-symbol'), `${c.file} holds its marks`);
      const png = readFileSync(c.png);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${c.png} is a PNG`);
      // IHDR width and height: the SVG's size at zoom 2.
      const [, w, h] = /^<svg[^>]*width="(\d+)" height="(\d+)"/.exec(svg) ?? [];
      assert.equal(png.readUInt32BE(16), 2 * Number(w), `${c.png} width`);
      assert.equal(png.readUInt32BE(20), 2 * Number(h), `${c.png} height`);
    }

    const both = await writeReport([a, b], { out: join(root, 'side', 'both.html') });
    const loss = both.charts.find((c) => c.id === 'loss');
    assert.equal(loss?.points, 12, 'two runs overlaid');
    const sideHtml = readFileSync(both.html, 'utf8');
    assert.ok(
      sideHtml.includes('<td>run-a</td>') && sideHtml.includes('<td>run-b</td>'),
      'metrics table has a row per run',
    );

    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) assert.fail(`${CHROMIUM} is absent`);
      return;
    }
    const browser = await launchChromium();
    try {
      for (const report of [one, both]) {
        const { page, status, drawn, external, pageErrors } = await openReport(browser, report.html);
        assert.equal(status, 'rendered');
        assert.equal(drawn.length, report.charts.length);
        for (const c of drawn) {
          assert.equal(c.svgs, 1, `${c.id}: one SVG`);
          assert.ok(c.points > 0);
          assert.equal(c.marks, c.points, `${c.id}: ${c.marks} marks drawn for ${c.points} points`);
          if (c.kind === 'line') assert.ok(c.lines >= 1, `${c.id}: a line`);
        }
        assert.equal(
          await page.evaluate(() => (window as unknown as { pwned?: number }).pwned),
          undefined,
          'injected script did not run',
        );
        assert.deepEqual(external, [], 'no network request');
        assert.deepEqual(pageErrors, []);
        const shot = join(root, `${report === one ? 'one' : 'both'}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        assert.ok(readFileSync(shot).length > 10_000, 'a screenshot was saved');
        await page.context().close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('report reader: names the file and line of a malformed line or field; ignores unknown types', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-report-bad-'));
  try {
    const f = join(dir, 'run.jsonl');
    const ok =
      '{"type":"config","time":"t","args":{}}\n{"type":"mystery","time":"t"}\n{"type":"step","time":"t","step":1,"epoch":0.1,"loss":2,"lr":0.1}\n';
    writeFileSync(f, ok);
    assert.equal(readRun(dir).steps.length, 1);
    appendFileSync(f, '\n{"type":"step", oops\n');
    assert.throws(
      () => readRun(dir),
      (e: Error) => e.message.startsWith(`${f}:5: not JSON`),
    );
    writeFileSync(f, ok + '[1,2]\n');
    assert.throws(
      () => readRun(f),
      (e: Error) => e.message === `${f}:4: expected a JSON object with a string "type"`,
    );
    writeFileSync(f, ok + '{"type":"eval","time":"t","step":2,"split":"valid","loss":"low"}\n');
    assert.throws(
      () => readRun(f),
      (e: Error) => e.message === `${f}:4: "eval" record: field "loss" must be a finite number`,
    );
    assert.throws(() => readRun(join(dir, 'nope')), /nope: no such run folder/);

    // Evaluations: step order kept when step 0 comes last; same split and step replaced; a resume
    // drops what the killed run logged after its checkpoint; labelled repetition records kept apart.
    const ev = (step: number, loss: number, split = 'valid'): string =>
      JSON.stringify({ type: 'eval', time: 't', step, split, loss, metrics: {} });
    const st = (step: number): string => JSON.stringify({ type: 'step', time: 't', step, epoch: 0, loss: 1, lr: 0.1 });
    writeFileSync(
      f,
      [
        '{"type":"config","time":"t","args":{}}',
        st(1),
        st(2),
        ev(2, 5),
        st(3),
        st(4),
        ev(4, 4),
        '{"type":"resume","time":"t","step":2,"path":"checkpoints/step-2"}',
        st(3),
        st(4),
        ev(4, 3),
        ev(0, 9),
        ev(4, 3.5),
        ev(0, 8, 'test'),
        '{"type":"repetition","time":"t","step":4,"metrics":{"rep-2":0.5}}',
        '{"type":"repetition","time":"t","step":4,"label":"greedy","metrics":{"rep-2":0.25}}',
        '',
      ].join('\n'),
    );
    const r = readRun(f);
    assert.deepEqual(
      r.steps.map((x) => x.step),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      r.evals.map((x) => [x.split, x.step, x.loss]),
      [
        ['valid', 0, 9],
        ['test', 0, 8],
        ['valid', 2, 5],
        ['valid', 4, 3.5],
      ],
    );
    assert.deepEqual(
      r.repetition.map((x) => [x.label, x.metrics['rep-2']]),
      [
        [null, 0.5],
        ['greedy', 0.25],
      ],
    );
    const ids = buildCharts([r]).map((c) => [c.id, c.points]);
    assert.deepEqual(
      ids.filter(([id]) => String(id).startsWith('repetition')),
      [
        ['repetition', 1],
        ['repetition-controls', 1],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
