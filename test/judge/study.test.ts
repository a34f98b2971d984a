/**
 * Making studies: generation by two systems (the embedded model and a run folder whose adapter is
 * loaded onto it), generation files, bad input, and the exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, PeftModel, generate, getPeftModel, loraConfig } from '../../src/index.js';
import {
  computeResults,
  createStudyFromGenerations,
  createStudyFromSystems,
  EMBEDDED_MODEL_DIR,
  judgementsCsv,
  JudgeStore,
  resolveSource,
} from '../../src/judge/index.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tunekit-judge-study-'));
}

test('judge create: outputs of the embedded model and of a run folder (adapter/ + run.jsonl) match generate() called directly', () => {
  const dir = tmp();
  try {
    // A run folder as docs/run-log.md describes it, with a LoRA adapter of non-zero weights.
    const run = join(dir, 'run');
    mkdirSync(join(run, 'adapter'), { recursive: true });
    const trained = AutoModelForCausalLM.fromPretrained(EMBEDDED_MODEL_DIR);
    const cfg = loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8 });
    const peft = getPeftModel(trained, { ...cfg, baseModelNameOrPath: 'stories260K' });
    let s = 1;
    for (const [, t] of trained.trainableParameters())
      for (let i = 0; i < t.f32.length; i++) t.f32[i] = ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.6;
    peft.savePretrained(join(run, 'adapter'));
    writeFileSync(
      join(run, 'run.jsonl'),
      `${JSON.stringify({ type: 'config', time: new Date().toISOString(), model: { path: EMBEDDED_MODEL_DIR } })}\n`,
    );
    const prompts = join(dir, 'prompts.txt');
    writeFileSync(prompts, 'Once upon a time\n\nThe little dog\n');

    const src = resolveSource(run);
    assert.equal(src.kind, 'run');
    assert.equal(src.adapterDir, join(run, 'adapter'));

    const store = new JudgeStore(join(dir, 'j.db'));
    try {
      const study = createStudyFromSystems(store, 'base-vs-run', 'default', run, prompts, { maxNewTokens: 12 });
      const items = store.items(study.id);
      assert.deepEqual(
        items.map((i) => i.prompt),
        ['Once upon a time', 'The little dog'],
      );

      const tok = AutoTokenizer.fromPretrained(EMBEDDED_MODEL_DIR);
      const base = AutoModelForCausalLM.fromPretrained(EMBEDDED_MODEL_DIR);
      const tuned = PeftModel.fromPretrained(
        AutoModelForCausalLM.fromPretrained(EMBEDDED_MODEL_DIR),
        join(run, 'adapter'),
      );
      for (const it of items) {
        const ids = tok.encode(it.prompt);
        assert.equal(it.outputA, generate(base, ids, { maxNewTokens: 12, tokenizer: tok }).texts?.[0]);
        assert.equal(it.outputB, generate(tuned, ids, { maxNewTokens: 12, tokenizer: tok }).texts?.[0]);
      }
      assert.ok(
        items.some((i) => i.outputA !== i.outputB),
        'the adapter changes the outputs',
      );
      assert.throws(() => createStudyFromSystems(store, 'base-vs-run', 'default', run, prompts), /already exists/);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('judge create from generation files: prompts must match; bad lines are named; CSV neutralises formulas', () => {
  const dir = tmp();
  try {
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    writeFileSync(a, '{"prompt":"p1","output":"=HYPERLINK(\\"x\\")"}\n{"prompt":"p2","output":"a2"}\n');
    writeFileSync(b, '{"prompt":"p1","output":"b1"}\n{"prompt":"p2","output":"b2"}\n');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt":"p1","output":"b1"}\n{"prompt":"p2"}\n');
    const other = join(dir, 'other.jsonl');
    writeFileSync(other, '{"prompt":"p1","output":"b1"}\n{"prompt":"pX","output":"b2"}\n');
    const store = new JudgeStore(join(dir, 'j.db'));
    try {
      assert.throws(
        () => createStudyFromGenerations(store, 's', a, bad),
        new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: field "output" must be a string`),
      );
      assert.throws(() => createStudyFromGenerations(store, 's', a, other), /generation 2: the prompts .* differ/);
      assert.throws(() => createStudyFromGenerations(store, 'bad name!', a, b), /not a valid name/);
      assert.throws(() => resolveSource(join(dir, 'nothing')), /no such folder/);
      const study = createStudyFromGenerations(store, 's', a, b);
      const { rater } = store.invite(study.id, 'ann');
      assert.throws(() => store.invite(study.id, 'ann'), /already invited/);
      const [i1, i2] = store.items(study.id);
      assert.ok(i1 && i2);
      const j = {
        raterId: rater.id,
        aLeft: true,
        naturalnessA: 4,
        helpfulnessA: 3,
        naturalnessB: 2,
        helpfulnessB: 2,
        repetitiveA: false,
        repetitiveB: true,
        comment: '',
      };
      store.saveJudgement({ ...j, itemId: i1.id, preference: 'A' });
      store.saveJudgement({ ...j, itemId: i2.id, preference: 'B', comment: '@SUM(1)' });
      store.saveJudgement({ ...j, itemId: i2.id, preference: 'tie', comment: '+1' }); // replaces, never duplicates
      const rows = store.judgements(study.id);
      assert.equal(rows.length, 2);
      const r = computeResults(study, 2, rows);
      assert.deepEqual([r.aWins.count, r.ties.count, r.bWins.count], [1, 1, 0]);
      assert.equal(r.meanRatings.B.repetitionRate, 1);
      const csv = judgementsCsv(store, study);
      assert.ok(csv.includes(`"'=HYPERLINK(""x"")"`), csv);
      assert.ok(csv.includes(`"'+1"`), csv);
      assert.ok(!/,=|,\+|,@/.test(csv), csv);
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
