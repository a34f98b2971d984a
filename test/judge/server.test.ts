/**
 * The judge app's input validation and access rules, through Hono's in-process `app.request`
 * (no socket): two studies at once, tokens scoped to their study, bounded and validated forms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeResults, createApp, JudgeStore } from '../../src/judge/index.js';

const ORIGIN = 'http://127.0.0.1:8787';

test('judge app: tokens are scoped to their study; forms are validated and bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-judge-app-'));
  const store = new JudgeStore(join(dir, 'j.db'));
  try {
    const items = [
      { prompt: 'p1', outputA: 'a1', outputB: 'b1' },
      { prompt: 'p2', outputA: 'a2', outputB: 'b2' },
    ];
    const s1 = store.createStudy('one', 'A', 'B', {}, items);
    const s2 = store.createStudy('two', 'A', 'B', {}, items);
    const ann = store.invite(s1.id, 'ann');
    const bob = store.invite(s1.id, 'bob');
    const cat = store.invite(s2.id, 'cat');
    const app = createApp(store, { loopbackOnly: true });
    const req = (path: string, init: RequestInit = {}): Promise<Response> =>
      Promise.resolve(app.request(`${ORIGIN}${path}`, init));
    const cookie = (sid: number, token: string): string => `judge_s${sid}=${token}`;

    // Two studies side by side; a token opens only its own study.
    assert.equal((await req(`/s/${s1.id}`, { headers: { cookie: cookie(s1.id, ann.token) } })).status, 200);
    assert.equal((await req(`/s/${s2.id}`, { headers: { cookie: cookie(s2.id, cat.token) } })).status, 200);
    assert.equal(
      (await req(`/s/${s2.id}`, { headers: { cookie: cookie(s2.id, ann.token) } })).status,
      403,
      "ann's token does not open study two",
    );
    assert.equal((await req('/s/999', { headers: { cookie: cookie(999, ann.token) } })).status, 403);
    assert.equal((await req('/s/1abc')).status, 403);

    const [i1, i2] = store.items(s1.id);
    const [j1] = store.items(s2.id);
    assert.ok(i1 && i2 && j1);
    const good = (itemId: number, token: string): Record<string, string> => ({
      csrf: store.csrfToken(token),
      item: String(itemId),
      preference: 'left',
      naturalness_left: '5',
      helpfulness_left: '4',
      naturalness_right: '2',
      helpfulness_right: '1',
      comment: 'fine',
    });
    const post = (sid: number, token: string, fields: Record<string, string>, extra = ''): Promise<Response> =>
      req(`/s/${sid}/judge`, {
        method: 'POST',
        headers: { cookie: cookie(sid, token), origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString() + extra,
      });
    const status = async (r: Promise<Response>): Promise<number> => (await r).status;

    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), naturalness_left: '6' })),
      400,
      'rating out of range',
    );
    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), preference: 'A' })),
      400,
      'preference must be a side',
    );
    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), system: 'A' })),
      400,
      'unknown field',
    );
    assert.equal(
      await status(post(s1.id, ann.token, good(i1.id, ann.token), '&preference=right')),
      400,
      'repeated field',
    );
    assert.equal(await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), repetitive_left: 'yes' })), 400);
    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), comment: 'x'.repeat(2001) })),
      400,
      'comment too long',
    );
    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), comment: 'bell\u0007' })),
      400,
      'control characters',
    );
    assert.equal(
      await status(post(s1.id, ann.token, { ...good(i1.id, ann.token), comment: 'y'.repeat(20000) })),
      413,
      'body over 16 KiB',
    );
    assert.equal(await status(post(s1.id, ann.token, good(j1.id, ann.token))), 400, 'an item of another study');
    assert.equal(
      await status(post(s1.id, ann.token, good(i1.id, bob.token))),
      403,
      "bob's CSRF token in ann's session",
    );
    assert.equal(store.judgements(s1.id).length, 0, 'nothing invalid was stored');

    // Valid answers are stored in A/B terms: "left" means whichever system ann sees on the left.
    assert.equal(await status(post(s1.id, ann.token, good(i1.id, ann.token))), 303);
    assert.equal(await status(post(s1.id, ann.token, { ...good(i2.id, ann.token), preference: 'tie' })), 303);
    assert.equal(await status(post(s1.id, bob.token, good(i1.id, bob.token))), 303);
    assert.equal(await status(post(s1.id, bob.token, { ...good(i2.id, bob.token), preference: 'right' })), 303);
    const rows = store.judgements(s1.id);
    assert.equal(rows.length, 4);
    for (const r of rows) {
      const leftIsA = r.aLeft;
      assert.equal(leftIsA ? r.naturalnessA : r.naturalnessB, 5);
      assert.equal(leftIsA ? r.helpfulnessB : r.helpfulnessA, 1);
    }
    const pref = (rater: string, itemId: number): string =>
      rows.find((r) => r.raterName === rater && r.itemId === itemId)?.preference ?? '';
    // Cohen's kappa for these two raters, computed here from the 2x2 labels.
    const a = [pref('ann', i1.id), pref('ann', i2.id)];
    const b = [pref('bob', i1.id), pref('bob', i2.id)];
    const po = (a[0] === b[0] ? 0.5 : 0) + (a[1] === b[1] ? 0.5 : 0);
    let pe = 0;
    for (const l of ['A', 'B', 'tie'])
      pe += (a.filter((x) => x === l).length / 2) * (b.filter((x) => x === l).length / 2);
    const r = computeResults(s1, 2, rows);
    if (pe === 1) assert.equal(r.agreement.cohenKappa, null);
    else assert.equal(r.agreement.cohenKappa, (po - pe) / (1 - pe));
    assert.equal(r.raters, 2);
    // Position bias from the stored sides: every "left" answer above is a left win; "right" is not.
    const nonTies = rows.filter((x) => x.preference !== 'tie');
    const left = nonTies.filter((x) => (x.preference === 'A') === x.aLeft).length;
    assert.equal(left, 2, 'ann and bob chose "left" twice among their three non-tie answers');
    assert.equal(r.position.leftWins.count, left);
    assert.equal(r.position.leftWins.rate, left / nonTies.length);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('judge app: only loopback by default', async () => {
  const { startServer } = await import('../../src/judge/index.js');
  await assert.rejects(startServer({ db: join(tmpdir(), 'never-created.sqlite'), host: '0.0.0.0' }), /needs --public/);
});
