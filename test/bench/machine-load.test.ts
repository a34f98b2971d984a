/**
 * The benchmark's busy-machine checks (/proc/stat parsing, stolen share, the warning thresholds, a
 * round's probe, live samples on this machine in [0, 1]) and its median.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUSY_LIMIT,
  STEAL_LIMIT,
  busyWhileIdle,
  cpuTicks,
  loadWarning,
  parseCpuTicks,
  roundLoadProbe,
  stealShare,
} from '../../bench/machine-load.js';
import { median } from '../../bench/stats.js';

const STAT = `cpu  4187425 17177 450566 1585260 6511 0 5920 33722 0 0
cpu0 2062516 8151 214891 839461 1168 0 458 16628 0 0
intr 1 2 3
`;

test('parseCpuTicks reads the aggregate line: idle counts iowait, steal is the eighth field', () => {
  const t = parseCpuTicks(STAT);
  assert.deepEqual(t, {
    total: 4187425 + 17177 + 450566 + 1585260 + 6511 + 0 + 5920 + 33722,
    idle: 1585260 + 6511,
    steal: 33722,
  });
  assert.equal(parseCpuTicks('cpu0 1 2 3 4\n'), null, 'no aggregate line');
  assert.equal(parseCpuTicks('cpu  1 x 3 4\n'), null, 'a field that is not a number');
});

test('stealShare and loadWarning: quiet rounds pass, busy or stolen ones are flagged with the reason', () => {
  const a = { total: 1000, idle: 500, steal: 10 };
  const b = { total: 2000, idle: 900, steal: 110 };
  assert.equal(stealShare(a, b), 0.1);
  assert.equal(stealShare(a, a), 0);
  assert.equal(loadWarning(0.02, 0.01), null);
  assert.equal(loadWarning(null, null), null);
  assert.equal(loadWarning(BUSY_LIMIT, STEAL_LIMIT), null, 'the limits themselves pass');
  assert.match(loadWarning(0.4, 0) ?? '', /40% of the CPU was busy/);
  assert.match(loadWarning(0, 0.12) ?? '', /stole 12%/);
  const both = loadWarning(0.5, 0.5) ?? '';
  assert.match(both, /busy/);
  assert.match(both, /stole/);
});

test('busyWhileIdle samples this machine: a share in [0, 1] on Linux, null elsewhere', () => {
  const share = busyWhileIdle(50);
  if (cpuTicks() === null) assert.equal(share, null);
  else {
    assert.ok(share !== null && share >= 0 && share <= 1, `share ${share}`);
  }
});

test('roundLoadProbe: sampled before a round, finished after it, with the warning loadWarning gives', () => {
  const done = roundLoadProbe(20);
  const load = done();
  assert.equal(load.warning, loadWarning(load.busyBefore, load.steal));
  if (cpuTicks() !== null) {
    assert.ok(load.busyBefore !== null && load.busyBefore >= 0 && load.busyBefore <= 1, `busy ${load.busyBefore}`);
    assert.ok(load.steal !== null && load.steal >= 0 && load.steal <= 1, `steal ${load.steal}`);
  }
});

test("median follows numpy's convention: the middle value, the mean of the middle two, null for none", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.equal(median([]), null);
  const xs = [5, 1, 4];
  median(xs);
  assert.deepEqual(xs, [5, 1, 4], 'the input is not sorted in place');
});
