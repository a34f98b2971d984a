/**
 * End to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) against the
 * real `tunekit judge serve` process:
 *  - a rater completes a study with the keyboard only;
 *  - the server is SIGKILLed mid-study and restarted: every acknowledged judgement is still there and
 *    the rater resumes where they left off (even submitting the form loaded before the kill);
 *  - two raters work in parallel;
 *  - HTML/script injected in a prompt and in a comment render as text and never run;
 *  - requests without a valid token (or CSRF token, or origin, or host) are refused;
 *  - the results page shows the numbers this test computes itself from the answers it gave.
 * CI installs chromium (.ci/run); on a machine without it the test is skipped with that reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { repoRoot } from '../helpers/shared.js';

const CLI = join(repoRoot, 'dist/src/cli/main.js');
const skip = existsSync(CHROMIUM) ? false : process.env.CI ? false : `${CHROMIUM} is absent (apt-get install chromium)`;

const INJECT_PROMPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Tell me a story';
const INJECT_COMMENT =
  '</td><script>window.__pwned = 3</script><img src=x onerror="window.__pwned = 4"> nice & "quoted"';
const ITEMS = 4;

function cli(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tunekit ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Server {
  proc: ChildProcess;
  url: string;
  adminUrl: string;
}

function startServer(db: string, port: number): Promise<Server> {
  const proc = spawn(process.execPath, [CLI, 'judge', 'serve', '--db', db, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}${err}`)), 15000);
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const adminUrl = /results \(admin, keep private\): (http:\/\/\S+)/.exec(out)?.[1];
      if (url && adminUrl) {
        clearTimeout(timer);
        resolve({ proc, url, adminUrl });
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** One judgement as the test means it, in system (A/B) terms. */
interface Answer {
  rater: string;
  item: string;
  side: 'left' | 'tie' | 'right';
  preference: 'A' | 'B' | 'tie';
  natA: number;
  helpA: number;
  natB: number;
  helpB: number;
  repA: boolean;
  repB: boolean;
  comment: string;
}

/** What a rater answers for an item: a fixed function of the rater and the item, in A/B terms. */
function plan(rater: string, itemNo: number): Omit<Answer, 'rater' | 'item' | 'side'> {
  const r = rater.charCodeAt(0);
  const prefs = ['A', 'B', 'tie', 'A'] as const;
  return {
    preference: prefs[(itemNo + (r % 2)) % 4] ?? 'A',
    natA: 1 + ((itemNo + r) % 5),
    helpA: 1 + ((2 * itemNo + r) % 5),
    natB: 1 + ((itemNo * 3 + r) % 5),
    helpB: 5 - (itemNo % 5),
    repA: (itemNo + r) % 3 === 0,
    repB: itemNo % 2 === 1,
    comment: rater === 'ann' && itemNo === 1 ? INJECT_COMMENT : '',
  };
}

/** Fills the current item with the keyboard only, following `plan`; returns the answer (not yet submitted). */
async function fillWithKeyboard(page: Page, rater: string): Promise<Answer> {
  const left = (await page.textContent('#output-left')) ?? '';
  const right = (await page.textContent('#output-right')) ?? '';
  const m = /^out-([AB])-(\d+)/.exec(left);
  assert.ok(m && /^out-[AB]-\d+/.test(right), `outputs: ${left} / ${right}`);
  const aLeft = m[1] === 'A';
  const itemNo = Number(m[2]);
  const p = plan(rater, itemNo);
  const [nl, hl, nr, hr] = aLeft ? [p.natA, p.helpA, p.natB, p.helpB] : [p.natB, p.helpB, p.natA, p.helpA];
  for (const v of [nl, hl, nr, hr]) await page.keyboard.press(String(v));
  const side = p.preference === 'tie' ? 'tie' : (p.preference === 'A') === aLeft ? 'left' : 'right';
  await page.keyboard.press(side === 'left' ? 'a' : side === 'tie' ? 's' : 'd');
  if (aLeft ? p.repA : p.repB) await page.keyboard.press('z');
  if (aLeft ? p.repB : p.repA) await page.keyboard.press('x');
  if (p.comment) {
    await page.keyboard.press('c');
    await page.keyboard.type(p.comment);
    await page.keyboard.press('Escape');
  }
  return { rater, item: `item-${itemNo}`, side, ...p };
}

async function submitWithKeyboard(page: Page): Promise<void> {
  const response = page.waitForResponse((r) => r.url().endsWith('/judge') && r.request().method() === 'POST');
  const loaded = page.waitForNavigation({ waitUntil: 'load' });
  await page.keyboard.press('Enter');
  const r = await response;
  assert.equal(r.status(), 303, `submission answered ${r.status()}`);
  await loaded;
}

async function progress(page: Page): Promise<number> {
  const text = (await page.textContent('#progress')) ?? '';
  const m = /^(\d+) of (\d+) done/.exec(text.trim());
  assert.ok(m, text);
  return Number(m[1]);
}

/** Rates items until `stopAfter` are done (or the study is finished). */
async function rate(page: Page, rater: string, answers: Answer[], stopAfter = ITEMS): Promise<void> {
  while ((await page.$('#judge-form')) && (await progress(page)) < stopAfter) {
    const a = await fillWithKeyboard(page, rater);
    await submitWithKeyboard(page);
    answers.push(a);
  }
}

/** GET with a chosen Host header (fetch does not let a caller set Host). */
function statusWithHost(url: string, host: string, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host, cookie } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const wilson = (k: number, n: number): [number, number] => {
  const z = 1.959963984540054;
  const p = k / n;
  const c = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const h = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, c - h), Math.min(1, c + h)];
};

test(
  'judge e2e: keyboard rating, SIGKILL and resume, parallel raters, injection, tokens, results',
  { skip, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-judge-e2e-'));
    const db = join(dir, 'study.sqlite');
    let server: Server | undefined;
    let browser: Browser | undefined;
    try {
      const gen = (sys: string): string =>
        Array.from({ length: ITEMS }, (_, i) =>
          JSON.stringify({
            prompt: i === 0 ? INJECT_PROMPT : `Prompt number ${i}`,
            output: `out-${sys}-${i} ${sys === 'A' ? 'a tale' : 'another tale'}`,
          }),
        ).join('\n');
      writeFileSync(join(dir, 'a.jsonl'), gen('A'));
      writeFileSync(join(dir, 'b.jsonl'), gen('B'));
      cli('judge', 'create', '--db', db, '--name', 'e2e', '--a', join(dir, 'a.jsonl'), '--b', join(dir, 'b.jsonl'));
      const invites = Object.fromEntries(
        ['ann', 'bob', 'cat'].map((r) => [
          r,
          new URL(cli('judge', 'invite', '--db', db, '--study', 'e2e', '--rater', r).trim()),
        ]),
      );

      server = await startServer(db, 0);
      const port = Number(new URL(server.url).port);
      const joinUrl = (r: string): string => `${server?.url}/join?token=${invites[r]?.searchParams.get('token') ?? ''}`;

      // --- refusals without a valid token / CSRF token / origin / host ---
      assert.equal((await fetch(`${server.url}/s/1`)).status, 403);
      assert.equal((await fetch(`${server.url}/join?token=not-a-token`, { redirect: 'manual' })).status, 403);
      assert.equal((await fetch(`${server.url}/admin/s/1`)).status, 403);
      const joined = await fetch(joinUrl('bob'), { redirect: 'manual' });
      assert.equal(joined.status, 303);
      const bobCookie = (joined.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      assert.match(joined.headers.get('set-cookie') ?? '', /HttpOnly/i);
      assert.match(joined.headers.get('set-cookie') ?? '', /SameSite=Strict/i);
      const form =
        'item=1&preference=left&naturalness_left=3&helpfulness_left=3&naturalness_right=3&helpfulness_right=3';
      const post = (headers: Record<string, string>, body: string): Promise<Response> =>
        fetch(`${server?.url}/s/1/judge`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body,
        });
      assert.equal((await post({ cookie: bobCookie, origin: server.url }, form)).status, 403, 'no CSRF token');
      assert.equal(
        (await post({ cookie: bobCookie, origin: server.url }, `${form}&csrf=forged`)).status,
        403,
        'forged CSRF token',
      );
      assert.equal((await post({ origin: server.url }, `${form}&csrf=x`)).status, 403, 'no rater cookie');
      assert.equal(
        (await post({ cookie: bobCookie, origin: 'http://evil.example' }, form)).status,
        403,
        'cross-origin post',
      );
      assert.equal(
        await statusWithHost(`${server.url}/s/1`, `evil.example:${port}`, bobCookie),
        403,
        'foreign Host header (DNS rebinding)',
      );
      assert.equal(
        await statusWithHost(`${server.url}/s/1`, `localhost:${port}`, bobCookie),
        200,
        'a loopback Host is fine',
      );
      assert.equal(
        (await fetch(`${server.url}/admin`, { headers: { cookie: bobCookie.replace(/^judge_s1/, 'judge_admin') } }))
          .status,
        403,
        'a rater token is not an admin token',
      );

      browser = await launchChromium();
      const answers: Answer[] = [];

      // --- ann: keyboard only; the injected prompt is text; SIGKILL after two acknowledged items ---
      const ann = await (await browser.newContext()).newPage();
      await ann.goto(joinUrl('ann'));
      assert.equal(await progress(ann), 0);
      await rate(ann, 'ann', answers, 2);
      assert.equal(await progress(ann), 2);
      const promptTexts: string[] = [];
      // Find the injected prompt on ann's remaining pages later; check now if it is showing.
      promptTexts.push((await ann.textContent('#prompt')) ?? '');
      assert.equal(await ann.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);

      // Fill the third item, then kill the server before submitting it.
      const pending = await fillWithKeyboard(ann, 'ann');
      await kill(server.proc);
      const afterKill = new Database(db, { readonly: true });
      const saved = afterKill
        .prepare("SELECT count(*) AS n FROM judgements j JOIN raters r ON r.id = j.rater_id WHERE r.name = 'ann'")
        .get() as { n: number };
      afterKill.close();
      assert.equal(saved.n, 2, 'both acknowledged judgements survived SIGKILL');
      server = await startServer(db, port);
      // The form loaded before the kill still submits after the restart (same port, persistent CSRF secret).
      await submitWithKeyboard(ann);
      answers.push(pending);
      assert.equal(await progress(ann), 3, 'ann resumes where she left off');
      await rate(ann, 'ann', answers);
      assert.ok(await ann.$('#done'), 'ann finished the study');
      assert.equal(await progress(ann), ITEMS);

      // --- bob and cat in parallel, each in their own browser context ---
      await Promise.all(
        ['bob', 'cat'].map(async (r) => {
          const page = await (await browser?.newContext())?.newPage();
          assert.ok(page);
          await page.goto(joinUrl(r));
          while (await page.$('#judge-form')) {
            const text = (await page.textContent('#prompt')) ?? '';
            promptTexts.push(text);
            if (text === INJECT_PROMPT) {
              assert.equal(
                await page.$$eval('#prompt *', (els) => els.length),
                0,
                'no element was made from the prompt',
              );
            }
            const a = await fillWithKeyboard(page, r);
            await submitWithKeyboard(page);
            answers.push(a);
          }
          assert.equal(await progress(page), ITEMS);
          assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
          // A rater sees neither the results nor which system is which.
          const html = await page.content();
          assert.ok(!/a\.jsonl|b\.jsonl|system A|system B/i.test(html), 'no system names on rater pages');
          assert.equal((await page.goto(`${server?.url}/admin/s/1`))?.status(), 403);
        }),
      );
      assert.ok(promptTexts.includes(INJECT_PROMPT), 'the injected prompt was shown verbatim as text');

      // --- the database holds exactly what was acknowledged ---
      const check = new Database(db, { readonly: true });
      const rows = check
        .prepare(
          'SELECT r.name AS rater, i.position AS position, j.preference AS preference FROM judgements j JOIN raters r ON r.id = j.rater_id JOIN items i ON i.id = j.item_id',
        )
        .all() as { rater: string; position: number; preference: string }[];
      check.close();
      assert.equal(rows.length, 3 * ITEMS);
      assert.equal(answers.length, 3 * ITEMS);
      for (const a of answers) {
        const row = rows.find((r) => r.rater === a.rater && `item-${r.position - 1}` === a.item);
        assert.equal(row?.preference, a.preference, `${a.rater} ${a.item}`);
      }

      // --- results page against numbers computed here from the answers given ---
      const admin = await (await browser.newContext()).newPage();
      await admin.goto(server.adminUrl);
      await admin.click('text=e2e');
      const value = async (id: string): Promise<number> => Number(await admin.getAttribute(`#${id}`, 'data-value'));
      const n = answers.length;
      const count = (p: string): number => answers.filter((a) => a.preference === p).length;
      assert.equal(await value('judgement-count'), n);
      for (const [id, p] of [
        ['a-wins', 'A'],
        ['b-wins', 'B'],
        ['ties', 'tie'],
      ] as const) {
        const k = count(p);
        assert.equal(await value(`${id}-count`), k, id);
        assert.ok(Math.abs((await value(`${id}-rate`)) - k / n) < 1e-12, id);
        const [lo, hi] = wilson(k, n);
        assert.ok(Math.abs((await value(`${id}-low`)) - lo) < 1e-12, `${id} low`);
        assert.ok(Math.abs((await value(`${id}-high`)) - hi) < 1e-12, `${id} high`);
      }
      // Sign test: exact binomial, ties dropped.
      const w = count('A');
      const l = count('B');
      let tail = 0;
      let c = 1;
      for (let i = 0; i <= Math.min(w, l); i++) {
        if (i > 0) c = (c * (w + l - i + 1)) / i;
        tail += c / 2 ** (w + l);
      }
      assert.ok(Math.abs((await value('sign-p')) - Math.min(1, 2 * tail)) < 1e-12, 'sign test');
      // Position bias: the sides the test saw when it answered.
      const leftWins = answers.filter((a) => a.side === 'left').length;
      assert.equal(await value('left-wins-count'), leftWins);
      assert.ok(Math.abs((await value('left-wins-rate')) - leftWins / (w + l)) < 1e-12, 'left-win rate');
      const avg = (f: (a: Answer) => number): number => answers.reduce((s, a) => s + f(a), 0) / n;
      assert.ok(Math.abs((await value('a-naturalness')) - avg((a) => a.natA)) < 1e-12);
      assert.ok(Math.abs((await value('b-helpfulness')) - avg((a) => a.helpB)) < 1e-12);
      assert.ok(Math.abs((await value('a-repetition')) - avg((a) => (a.repA ? 1 : 0))) < 1e-12);
      // Fleiss' kappa over the items all three raters judged (here: all), categories A / tie / B.
      const items = [...new Set(answers.map((a) => a.item))];
      let pSum = 0;
      const tot = { A: 0, tie: 0, B: 0 };
      for (const it of items) {
        const here = answers.filter((a) => a.item === it);
        let sq = 0;
        for (const p of ['A', 'tie', 'B'] as const) {
          const k = here.filter((a) => a.preference === p).length;
          sq += k * k;
          tot[p] += k;
        }
        pSum += (sq - 3) / (3 * 2);
      }
      const pe = (['A', 'tie', 'B'] as const).reduce((s, p) => s + (tot[p] / n) ** 2, 0);
      assert.ok(
        Math.abs((await value('fleiss-kappa')) - (pSum / items.length - pe) / (1 - pe)) < 1e-12,
        'Fleiss kappa',
      );
      assert.equal(
        await admin.getAttribute('#cohen-kappa', 'data-value'),
        '',
        "Cohen's kappa needs exactly two raters",
      );
      // The injected comment is shown as text on the results page and runs nothing.
      assert.deepEqual(
        await admin.$$eval('#comments td.comment', (tds) => tds.map((td) => [td.textContent, td.children.length])),
        [[INJECT_COMMENT, 0]],
      );
      assert.equal(await admin.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      // The CLI reports the same counts.
      const json = JSON.parse(cli('judge', 'results', 'e2e', '--db', db, '--json')) as {
        results: { aWins: { count: number }; judgements: number };
      };
      assert.equal(json.results.judgements, n);
      assert.equal(json.results.aWins.count, count('A'));
    } finally {
      await browser?.close();
      if (server) await kill(server.proc);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
