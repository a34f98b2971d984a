/**
 * Load test of `tunekit judge serve` on loopback: 50 simulated raters (each with its own invite
 * cookie) fetch their next item and submit a judgement in a loop for a minute. Afterwards the
 * database must hold exactly the acknowledged (303) judgements: none lost, none duplicated.
 *
 * Baseline measured in the same run: the same 50 clients fetching the static stylesheet for a few
 * seconds (the framework's and the loopback's own cost, no database), so the judgement latency is
 * printed as a ratio to it.
 *
 *   npm run bench -- judge                  (JUDGE_LOAD_SECONDS=60, JUDGE_LOAD_RATERS=50)
 *   node dist/bench/judge-load.js [seconds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JudgeStore } from '../src/judge/index.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const CLI = join(repoRoot, 'dist/src/cli/main.js');

function percentiles(xs: number[]): Record<string, number> {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { n: s.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1] ?? NaN) };
}

function startServer(db: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [CLI, 'judge', 'serve', '--db', db, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveP, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolveP({ proc, url });
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

export async function benchJudgeLoad(
  seconds = Number(process.env.JUDGE_LOAD_SECONDS ?? 60),
  raters = Number(process.env.JUDGE_LOAD_RATERS ?? 50),
): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-judge-load-'));
  const db = join(dir, 'load.sqlite');
  let proc: ChildProcess | undefined;
  try {
    const store = new JudgeStore(db);
    const items = Array.from({ length: 5000 }, (_, i) => ({
      prompt: `Prompt ${i}: tell me about item ${i}.`,
      outputA: `A answers ${i} `.repeat(20),
      outputB: `B answers ${i} `.repeat(20),
    }));
    const study = store.createStudy('load', 'A', 'B', {}, items);
    const tokens = Array.from({ length: raters }, (_, i) => store.invite(study.id, `rater-${i}`).token);
    store.close();
    const server = await startServer(db);
    proc = server.proc;
    const { url } = server;

    // Join: each simulated rater gets its own cookie.
    const cookies = await Promise.all(
      tokens.map(async (t) => {
        const r = await fetch(`${url}/join?token=${t}`, { redirect: 'manual' });
        return (r.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      }),
    );

    // Baseline: static stylesheet, same clients, a few seconds.
    const baseline: number[] = [];
    const baseEnd = performance.now() + Math.min(10, seconds / 4) * 1000;
    await Promise.all(
      cookies.map(async () => {
        while (performance.now() < baseEnd) {
          const t0 = performance.now();
          const r = await fetch(`${url}/static/judge.css`);
          await r.text();
          baseline.push(performance.now() - t0);
        }
      }),
    );

    const getLat: number[] = [];
    const postLat: number[] = [];
    const acked = new Set<string>();
    let errors = 0;
    let doubleAcks = 0;
    const end = performance.now() + seconds * 1000;
    await Promise.all(
      cookies.map(async (cookie, ri) => {
        while (performance.now() < end) {
          let t0 = performance.now();
          const page = await (await fetch(`${url}/s/${study.id}`, { headers: { cookie } })).text();
          getLat.push(performance.now() - t0);
          const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
          const item = /name="item" value="(\d+)"/.exec(page)?.[1];
          if (!csrf || !item) break; // finished every item
          const body = new URLSearchParams({
            csrf,
            item,
            preference: ['left', 'tie', 'right'][(ri + Number(item)) % 3] ?? 'tie',
            naturalness_left: '4',
            helpfulness_left: '3',
            naturalness_right: '2',
            helpfulness_right: '5',
            comment: `load ${ri} ${item}`,
          });
          t0 = performance.now();
          const r = await fetch(`${url}/s/${study.id}/judge`, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie, origin: url, 'content-type': 'application/x-www-form-urlencoded' },
            body,
          });
          await r.arrayBuffer();
          postLat.push(performance.now() - t0);
          if (r.status === 303) {
            const key = `rater-${ri}/${item}`;
            if (acked.has(key)) doubleAcks++;
            acked.add(key);
          } else errors++;
        }
      }),
    );
    proc.kill('SIGKILL'); // acknowledged judgements must survive even this
    await new Promise((r) => proc?.once('exit', r));

    const check = new JudgeStore(db, { readonly: true });
    const rows = check.db
      .prepare('SELECT r.name AS rater, j.item_id AS item FROM judgements j JOIN raters r ON r.id = j.rater_id')
      .all() as { rater: string; item: number }[];
    check.close();
    const stored = new Set(rows.map((r) => `${r.rater}/${r.item}`));
    const lost = [...acked].filter((k) => !stored.has(k)).length;
    const duplicated = rows.length - stored.size;
    const unacknowledged = [...stored].filter((k) => !acked.has(k)).length;
    const post = percentiles(postLat);
    const base = percentiles(baseline);
    const result = {
      raters,
      seconds,
      judgementsAcknowledged: acked.size,
      judgementsStored: rows.length,
      lost,
      duplicated,
      unacknowledgedStored: unacknowledged,
      errors,
      doubleAcks,
      judgementsPerSecond: Math.round((acked.size / seconds) * 10) / 10,
      postMs: post,
      getMs: percentiles(getLat),
      baselineStaticMs: base,
      postP50VsBaseline: Math.round(((post.p50 ?? NaN) / (base.p50 ?? NaN)) * 100) / 100,
      postP99VsBaseline: Math.round(((post.p99 ?? NaN) / (base.p99 ?? NaN)) * 100) / 100,
    };
    console.log(
      `  ${raters} raters for ${seconds} s: ${acked.size} judgements acknowledged (${result.judgementsPerSecond}/s), ${rows.length} stored after SIGKILL; lost ${lost}, duplicated ${duplicated}, errors ${errors}`,
    );
    console.log(`  submit latency ms: p50 ${post.p50}  p90 ${post.p90}  p99 ${post.p99}  max ${post.max}`);
    const g = result.getMs;
    console.log(`  next-item page ms: p50 ${g.p50}  p90 ${g.p90}  p99 ${g.p99}  max ${g.max}`);
    console.log(
      `  baseline (static file, same clients) ms: p50 ${base.p50}  p99 ${base.p99}; submit/baseline: p50 x${result.postP50VsBaseline}, p99 x${result.postP99VsBaseline}`,
    );
    if (lost !== 0 || duplicated !== 0 || errors !== 0)
      throw new Error(`judge load test failed: lost ${lost}, duplicated ${duplicated}, errors ${errors}`);
    return result;
  } finally {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const s = process.argv[2] ? Number(process.argv[2]) : undefined;
  await benchJudgeLoad(s);
}
