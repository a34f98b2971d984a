/**
 * The README's main command, `tunekit demo --quick`, end to end into a temporary folder: the three
 * runs learn (loss falls, LoRA lowers the held-out perplexity), the adapters are PEFT folders that
 * reload exactly, repetition controls remove repeated 3-grams, the run logs hold the records the
 * report needs, and headless Chromium (Debian's /usr/bin/chromium via playwright-core) draws every
 * chart of the side-by-side report with one mark per logged point, offline; a screenshot is saved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_RUNS, HUB_COMMANDS, runDemo } from '../../src/cli/demo.js';
import { readRunLog, type RunRecord } from '../../src/train/run-log.js';
import { CHROMIUM, launchChromium, openReport } from '../helpers/chromium.js';

test('demo --quick: three runs, metrics before/after with CIs, forgetting, repetition controls, report drawn in Chromium', async () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-demo-test-'));
  try {
    const lines: string[] = [];
    const r = await runDemo({ quick: true, seed: 0, out, log: (l) => lines.push(l) });
    const printed = lines.join('\n');

    // Each run learned; LoRA lowers the held-out task perplexity; CIs bracket the values.
    assert.deepEqual(
      r.runs.map((x) => x.name),
      [...DEMO_RUNS],
    );
    for (const run of r.runs) {
      assert.ok(run.lastLoss < run.firstLoss, `${run.name}: loss ${run.firstLoss} -> ${run.lastLoss}`);
      assert.equal(run.reloadMaxDiff, 0, `${run.name}: reloaded adapter reproduces the logits`);
      const { perplexity, perplexityCi, accuracy, accuracyCi } = run.after;
      assert.ok(perplexityCi[0] <= perplexity && perplexity <= perplexityCi[1], `${run.name} perplexity CI`);
      assert.ok(accuracyCi[0] <= accuracy && accuracy <= accuracyCi[1], `${run.name} accuracy CI`);
    }
    const lora = r.runs[0];
    assert.ok(
      lora && lora.after.perplexity < r.before.perplexity,
      `LoRA ${lora?.after.perplexity} vs base ${r.before.perplexity}`,
    );
    const cfg = (name: string): { peft_type: string } =>
      JSON.parse(readFileSync(join(out, name, 'adapter', 'adapter_config.json'), 'utf8')) as { peft_type: string };
    assert.equal(cfg('lora').peft_type, 'LORA');
    assert.equal(cfg('prompt-tuning').peft_type, 'PROMPT_TUNING');
    assert.ok(existsSync(join(out, 'lora', 'adapter', 'adapter_model.safetensors')));

    // no_repeat_ngram_size 3 makes a repeated 3-gram impossible; plain greedy differs.
    assert.equal(r.repetition.controlled['rep-3'], 0);
    assert.notDeepEqual(r.generations.plain, r.generations.controlled);

    // The console output: every part, and the Hub commands exactly as documented.
    for (const part of ['[1/6]', '[2/6]', '[3/6]', '[4/6]', '[5/6]', '[6/6]', 'max |Δlogit| = 0'])
      assert.ok(printed.includes(part), part);
    for (const c of HUB_COMMANDS) assert.ok(lines.includes(`  ${c}`), c);
    assert.ok(printed.includes(`Report of the three runs side by side: `));

    // The run logs: what the report draws, counted independently from run.jsonl.
    const logs = new Map<string, RunRecord[]>(DEMO_RUNS.map((n) => [n, readRunLog(join(out, n, 'run.jsonl'))]));
    const all = [...logs.values()].flat();
    const of = (type: string, recs: RunRecord[] = all): RunRecord[] => recs.filter((x) => x.type === type);
    for (const [name, recs] of logs) {
      assert.equal(recs[0]?.type, 'config', `${name}: config first`);
      const evals = of('eval', recs);
      assert.ok(
        evals.some((e) => e.step === 0 && e.ci !== undefined),
        `${name}: a step-0 evaluation with CIs`,
      );
      assert.equal(of('forgetting', recs).length, 1, `${name}: one forgetting record`);
      assert.equal(of('end', recs).length, 1);
    }
    // Points per chart, as the report's rules put them (later (split, step) evaluations replace earlier ones).
    const uniqueEvals = (recs: RunRecord[]): RunRecord[] => {
      const m = new Map<string, RunRecord>();
      for (const e of of('eval', recs)) m.set(`${String(e.split)}@${String(e.step)}`, e);
      return [...m.values()];
    };
    const evalPoints = [...logs.values()].reduce((n, recs) => n + uniqueEvals(recs).length, 0);
    const metricsOf = (x: RunRecord): number => Object.keys(x.metrics as object).length;
    const unlabelledRep = of('repetition').filter((x) => x.label === undefined);
    const labelledRep = of('repetition').filter((x) => x.label !== undefined);
    // Forgetting bars: per measure (loss, perplexity), one per before / after / variant value.
    const forgettingBars = new Map<string, number>();
    for (const f of of('forgetting'))
      for (const side of [
        f.before,
        f.after,
        ...((f.variants as Array<{ after: object }> | undefined) ?? []).map((v) => v.after),
      ])
        for (const m of Object.keys(side as object)) forgettingBars.set(m, (forgettingBars.get(m) ?? 0) + 1);
    const expected: Record<string, number> = {
      loss: of('step').length,
      'learning-rate': of('step').length,
      'eval-loss': evalPoints,
      'eval-perplexity': evalPoints,
      'eval-accuracy': evalPoints,
      repetition: unlabelledRep.reduce((n, x) => n + metricsOf(x), 0),
      'repetition-controls': labelledRep.reduce((n, x) => n + metricsOf(x), 0),
      ...Object.fromEntries([...forgettingBars].map(([m, n]) => [`forgetting-${m}`, n])),
    };
    assert.equal(labelledRep.length, 2, 'with and without repetition controls');
    assert.equal(
      forgettingBars.get('perplexity'),
      6,
      'general perplexity before and after, for each of the three runs',
    );

    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) assert.fail(`${CHROMIUM} is absent`);
      return;
    }
    const browser = await launchChromium();
    try {
      const { page, status, drawn, external, pageErrors } = await openReport(browser, r.report, {
        width: 1400,
        height: 900,
      });
      assert.equal(status, 'rendered');
      assert.deepEqual(drawn.map((c) => c.id).sort(), Object.keys(expected).sort(), 'every chart is on the page');
      assert.equal(drawn.length, r.charts);
      for (const c of drawn) {
        assert.equal(c.svgs, 1, `${c.id}: one SVG`);
        assert.ok((expected[c.id] ?? 0) > 0, `${c.id}: has points`);
        assert.equal(c.marks, expected[c.id], `${c.id}: ${c.marks} marks for ${expected[c.id]} logged points`);
        if (c.kind === 'line') assert.equal(c.lines > 0, true, `${c.id}: lines drawn`);
      }
      const text = await page.evaluate(() => document.body.innerText);
      for (const s of [
        'Forgetting on',
        'Repetition',
        'greedy, repetition penalty 1.3',
        'step 0:',
        'Brackets: bootstrap',
      ])
        assert.ok(text.includes(s), `the page shows "${s}"`);
      assert.deepEqual(external, [], 'no network request');
      assert.deepEqual(pageErrors, []);
      const shot = join(out, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(readFileSync(shot).length > 20_000, 'a screenshot was saved');
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
