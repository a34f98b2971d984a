/**
 * Issue 12's metric findings, each reproduced as it was reported: options that allocated without
 * bound, and inputs whose size overflowed the call stack (`Math.max(...array)`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { corpusBleu } from '../../src/metrics/bleu.js';
import { corpusChrf } from '../../src/metrics/chrf.js';
import { assertClose } from '../helpers/close.js';
import { repoRoot } from '../helpers/shared.js';

test('maxNgramOrder=1e9 / charOrder=1e9: an error naming the option and its range, before any allocation', () => {
  // Before: out of memory (an n-gram table per order).
  assert.throws(
    () => corpusBleu(['a b'], [['a b']], { maxNgramOrder: 1e9 }),
    /BLEU maxNgramOrder must be an integer in \[1, 100\], got 1000000000/,
  );
  assert.throws(
    () => corpusChrf(['a b'], [['a b']], { charOrder: 1e9 }),
    /chrF charOrder must be an integer in \[0, 100\], got 1000000000/,
  );
  assert.throws(
    () => corpusChrf(['a b'], [['a b']], { wordOrder: 1e9 }),
    /chrF wordOrder must be an integer in \[0, 100\]/,
  );
  // the bounds themselves are accepted
  assertClose(corpusBleu(['a b'], [['a b']], { maxNgramOrder: 100, effectiveOrder: true }).score, 100);
  assertClose(corpusChrf(['ab'], [['ab']], { charOrder: 100 }).score, 100);
});

/**
 * Runs `body` in a child Node with a 150 KiB stack, where spreading ~20k values into a call
 * (`Math.max(...array)`) overflows as ~130k do with the default stack: the same failure, at a size
 * that keeps the test fast. Returns the child's stdout; a non-zero exit fails with its stderr.
 */
function runWithSmallStack(body: string): string {
  const modules = join(repoRoot, 'dist/src/metrics');
  const script = `
    const m = { ...(await import(${JSON.stringify(join(modules, 'registry.js'))})), ...(await import(${JSON.stringify(join(modules, 'squad.js'))})),
      ...(await import(${JSON.stringify(join(modules, 'sequence-labeling.js'))})), ...(await import(${JSON.stringify(join(modules, 'classification.js'))})) };
    ${body}`;
  const r = spawnSync(process.execPath, ['--stack-size=150', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('the failure mode itself: a 20k-value spread overflows a 150 KiB stack', () => {
  assert.throws(() => runWithSmallStack('Math.max(...new Array(20000).fill(1));'), /Maximum call stack size exceeded/);
});

test('BLEU and chrF through the registry on 20k lines (130k with the default stack): no call-stack overflow', () => {
  // Before: eval-metrics built reference streams with Math.max(...lengths) and overflowed at ~130k lines.
  const out = runWithSmallStack(`
    const lines = Array.from({ length: 20000 }, (_, i) => 'w' + (i % 97));
    console.log(m.computeMetric('bleu', { predictions: lines, references: lines }, { maxNgramOrder: 1 }).score,
      m.computeMetric('chrf', { predictions: lines, references: lines }, { charOrder: 1 }).score);`);
  const [bleu, chrf] = out.split(' ').map(Number);
  assertClose(bleu ?? NaN, 100);
  assertClose(chrf ?? NaN, 100);
});

test('user-sized arrays in squad, CMRC segmentation, seqeval reports and multilabel labels: no spread', () => {
  const out = runWithSmallStack(`
    // One question with 20k gold answers (Math.max(...answers.map(f1)) before).
    const answers = Array.from({ length: 20000 }, (_, i) => 'answer ' + i);
    const squad = m.squadEvaluate([{ id: 'q', prediction_text: 'answer 19999' }], [{ id: 'q', answers: { text: answers } }]);
    // A 20k-token non-Chinese run before a Chinese character (segments.push(...tokens) before).
    const segments = m.cmrc2018MixedSegmentation(Array.from({ length: 20000 }, () => 'x').join(' ') + '中');
    // A classification report over 20k entity types (Math.max(...widths) before).
    const tags = Array.from({ length: 20000 }, (_, i) => 'B-T' + i);
    const report = m.seqeval.classificationReport([tags], [tags]);
    // multilabel labels with 20k column indices (Math.max(...columns) before): the range check still fires.
    const labels = Array.from({ length: 20000 }, (_, i) => i % 2);
    labels.push(5);
    let error = '';
    try { m.f1Score([[1, 0], [0, 1]], [[1, 0], [0, 1]], { average: 'macro', labels }); } catch (e) { error = e.message; }
    console.log(JSON.stringify({ squad, segments: segments.length, report: report.includes('T19999'), error }));`);
  assert.deepEqual(JSON.parse(out), {
    squad: { exact_match: 100, f1: 100 },
    segments: 20001,
    report: true,
    error: 'All labels must be in [0, n labels) for multilabel targets. Got 5 > 1',
  });
});
