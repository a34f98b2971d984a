/**
 * Grad mode is scoped per async context: an async noGrad task does not switch gradients off for a
 * task that trains at the same time, and the mode holds across the awaits of its own task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../../src/tensor/ops.js';
import { enableGrad, isGradEnabled, noGrad } from '../../src/tensor/tensor.js';

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

test('two interleaved async tasks: one in noGrad records nothing, the other keeps its graph', async () => {
  const w = F.tensor([1, 2, 3], [3], { requiresGrad: true });
  const order: string[] = [];
  const inference = noGrad(async () => {
    const recorded: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      order.push(`infer ${i}`);
      recorded.push(F.mul(w, w).requiresGrad, isGradEnabled());
      await tick();
    }
    return recorded;
  });
  const training = (async () => {
    const seen: boolean[] = [];
    let acc = F.scale(w, 1);
    for (let i = 0; i < 3; i++) {
      order.push(`train ${i}`);
      acc = F.add(acc, F.mul(w, w));
      seen.push(acc.requiresGrad, isGradEnabled());
      await tick();
    }
    F.sum(acc).backward();
    return seen;
  })();
  const [inf, tr] = await Promise.all([inference, training]);
  // The two tasks really interleaved: each ran a step while the other was suspended.
  assert.deepEqual(order.slice(0, 4), ['infer 0', 'train 0', 'infer 1', 'train 1']);
  assert.deepEqual(inf, [false, false, false, false, false, false], 'noGrad task: no graph at any step');
  assert.deepEqual(tr, [true, true, true, true, true, true], 'training task: graph at every step');
  // d/dw of sum(w + 3 w²) = 1 + 6 w.
  assert.deepEqual([...w.grad!], [7, 13, 19]);
  assert.equal(isGradEnabled(), true, 'mode is back on after both settle');
});

test('sync noGrad restores the mode even when fn throws; enableGrad re-enables inside noGrad', () => {
  const w = F.tensor([1], [1], { requiresGrad: true });
  assert.throws(
    () =>
      noGrad(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(isGradEnabled(), true);
  noGrad(() => {
    assert.equal(F.mul(w, w).requiresGrad, false);
    assert.equal(
      enableGrad(() => F.mul(w, w).requiresGrad),
      true,
    );
    assert.equal(isGradEnabled(), false);
  });
});

test('a rejected async noGrad leaves the caller in grad mode', async () => {
  await assert.rejects(
    noGrad(async () => {
      await tick();
      throw new Error('late');
    }),
    /late/,
  );
  assert.equal(isGradEnabled(), true);
});
