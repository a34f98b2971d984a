/**
 * A study's results from its judgements: win/tie/loss of A against B with Wilson 95% intervals and
 * the exact sign test, mean ratings per system, and inter-rater agreement on the preference
 * (Cohen's kappa for exactly two raters, Fleiss' kappa over the items every rater judged,
 * Krippendorff's alpha) and on the 1-5 ratings (Krippendorff's ordinal alpha). CSV/JSON export.
 */
import { cohenKappa, fleissKappa, krippendorffAlpha, mean, signTest, wilsonInterval } from './stats.js';
import type { JudgeStore, JudgementRow, StudyRow } from './store.js';

export interface Rate {
  count: number;
  rate: number;
  ci95: [number, number];
}
export interface SystemRatings {
  naturalness: number;
  helpfulness: number;
  repetitionRate: number;
}
export interface StudyResults {
  study: string;
  systems: { A: string; B: string };
  items: number;
  raters: number;
  judgements: number;
  aWins: Rate;
  bWins: Rate;
  ties: Rate;
  /** Exact two-sided sign test of A wins against B wins (ties dropped). */
  signTestP: number;
  meanRatings: { A: SystemRatings; B: SystemRatings };
  /**
   * Position bias: among non-tie judgements, how often the answer shown on the left won (Wilson 95%),
   * and the sign test of left against right wins. Sides are random, so this should be near 50%.
   */
  position: { leftWins: Rate; signTestP: number };
  agreement: {
    /** Cohen's kappa on the preference, when the study has exactly two raters who share items. */
    cohenKappa: number | null;
    /** Fleiss' kappa on the preference over the items judged by every rater (>= 2 raters). */
    fleissKappa: number | null;
    fleissItems: number;
    /** Krippendorff's alpha on the preference as ordinal (A better < tie < B better). */
    preferenceAlpha: number | null;
    /** Krippendorff's ordinal alpha on the 1-5 ratings (a unit = one item's output of one system). */
    naturalnessAlpha: number | null;
    helpfulnessAlpha: number | null;
  };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

function rate(k: number, n: number): Rate {
  return { count: k, rate: n === 0 ? 0 : k / n, ci95: wilsonInterval(k, n) };
}

/** Computes the results of a study from its judgements. */
export function computeResults(study: StudyRow, itemCount: number, rows: readonly JudgementRow[]): StudyResults {
  const n = rows.length;
  const a = rows.filter((r) => r.preference === 'A').length;
  const b = rows.filter((r) => r.preference === 'B').length;
  const leftWins = rows.filter((r) => r.preference !== 'tie' && (r.preference === 'A') === r.aLeft).length;
  const raterIds = [...new Set(rows.map((r) => r.raterId))].sort((x, y) => x - y);
  const byItem = new Map<number, Map<number, JudgementRow>>();
  for (const r of rows) {
    let m = byItem.get(r.itemId);
    if (!m) byItem.set(r.itemId, (m = new Map<number, JudgementRow>()));
    m.set(r.raterId, r);
  }
  const itemIds = [...byItem.keys()].sort((x, y) => x - y);

  let cohen: number | null = null;
  if (raterIds.length === 2) {
    const [r1, r2] = raterIds as [number, number];
    const shared = itemIds.filter((id) => byItem.get(id)?.has(r1) && byItem.get(id)?.has(r2));
    if (shared.length > 0) {
      cohen = finiteOrNull(
        cohenKappa(
          shared.map((id) => byItem.get(id)?.get(r1)?.preference ?? ''),
          shared.map((id) => byItem.get(id)?.get(r2)?.preference ?? ''),
        ),
      );
    }
  }
  let fleiss: number | null = null;
  let fleissItems = 0;
  if (raterIds.length >= 2) {
    const complete = itemIds.filter((id) => byItem.get(id)?.size === raterIds.length);
    fleissItems = complete.length;
    if (complete.length > 0) {
      const cats = ['A', 'tie', 'B'];
      fleiss = finiteOrNull(
        fleissKappa(
          complete.map((id) =>
            cats.map((c) => [...(byItem.get(id)?.values() ?? [])].filter((r) => r.preference === c).length),
          ),
        ),
      );
    }
  }
  const prefValue = { A: 1, tie: 2, B: 3 } as const;
  const matrix = (value: (r: JudgementRow) => number): (number | null)[][] =>
    raterIds.map((rid) =>
      itemIds.map((id) => {
        const r = byItem.get(id)?.get(rid);
        return r ? value(r) : null;
      }),
    );
  const ratingMatrix = (pick: (r: JudgementRow, system: 'A' | 'B') => number): (number | null)[][] =>
    raterIds.map((rid) =>
      itemIds.flatMap((id) => {
        const r = byItem.get(id)?.get(rid);
        return r ? [pick(r, 'A'), pick(r, 'B')] : [null, null];
      }),
    );
  const alpha = (m: (number | null)[][]): number | null =>
    raterIds.length >= 2 ? finiteOrNull(krippendorffAlpha(m, 'ordinal')) : null;
  const ratings = (s: 'A' | 'B'): SystemRatings => ({
    naturalness: mean(rows.map((r) => (s === 'A' ? r.naturalnessA : r.naturalnessB))),
    helpfulness: mean(rows.map((r) => (s === 'A' ? r.helpfulnessA : r.helpfulnessB))),
    repetitionRate: mean(rows.map((r) => ((s === 'A' ? r.repetitiveA : r.repetitiveB) ? 1 : 0))),
  });
  return {
    study: study.name,
    systems: { A: study.sourceA, B: study.sourceB },
    items: itemCount,
    raters: raterIds.length,
    judgements: n,
    aWins: rate(a, n),
    bWins: rate(b, n),
    ties: rate(n - a - b, n),
    signTestP: signTest(a, b),
    meanRatings: { A: ratings('A'), B: ratings('B') },
    position: { leftWins: rate(leftWins, a + b), signTestP: signTest(leftWins, a + b - leftWins) },
    agreement: {
      cohenKappa: cohen,
      fleissKappa: fleiss,
      fleissItems,
      preferenceAlpha: alpha(matrix((r) => prefValue[r.preference])),
      naturalnessAlpha: alpha(ratingMatrix((r, s) => (s === 'A' ? r.naturalnessA : r.naturalnessB))),
      helpfulnessAlpha: alpha(ratingMatrix((r, s) => (s === 'A' ? r.helpfulnessA : r.helpfulnessB))),
    },
  };
}

/** Results of a study in the store, by name or id. */
export function studyResults(store: JudgeStore, nameOrId: string | number): StudyResults {
  const study = store.study(nameOrId);
  if (!study) throw new Error(`no study "${nameOrId}" in ${store.path}`);
  return computeResults(study, store.items(study.id).length, store.judgements(study.id));
}

/** A CSV cell: quoted, and a leading = + - @ neutralised so spreadsheets do not run it as a formula. */
function csvCell(v: string | number | boolean): string {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) || s !== String(v) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Every judgement of a study, one CSV row each (with the item's prompt and both outputs). */
export function judgementsCsv(store: JudgeStore, study: StudyRow): string {
  const items = new Map(store.items(study.id).map((i) => [i.id, i]));
  const header = [
    'study',
    'item',
    'rater',
    'preference',
    'a_shown_left',
    'naturalness_a',
    'helpfulness_a',
    'naturalness_b',
    'helpfulness_b',
    'repetitive_a',
    'repetitive_b',
    'comment',
    'created',
    'prompt',
    'output_a',
    'output_b',
  ];
  const lines = [header.join(',')];
  for (const j of store.judgements(study.id)) {
    const it = items.get(j.itemId);
    lines.push(
      [
        study.name,
        j.position,
        j.raterName,
        j.preference,
        j.aLeft,
        j.naturalnessA,
        j.helpfulnessA,
        j.naturalnessB,
        j.helpfulnessB,
        j.repetitiveA,
        j.repetitiveB,
        j.comment,
        j.created,
        it?.prompt ?? '',
        it?.outputA ?? '',
        it?.outputB ?? '',
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Results and every judgement as one JSON document. */
export function resultsJson(store: JudgeStore, study: StudyRow): string {
  return `${JSON.stringify({ results: studyResults(store, study.id), judgements: store.judgements(study.id) }, null, 2)}\n`;
}

/** The results as plain text for the terminal. */
export function formatResults(r: StudyResults): string {
  const pct = (x: Rate): string =>
    `${(100 * x.rate).toFixed(1)}% [${(100 * x.ci95[0]).toFixed(1)}, ${(100 * x.ci95[1]).toFixed(1)}] (${x.count})`;
  const f = (x: number | null, d = 3): string => (x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
  const pctOf = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
  return [
    `study ${r.study}: ${r.judgements} judgements of ${r.items} items by ${r.raters} rater(s)`,
    `  A = ${r.systems.A}`,
    `  B = ${r.systems.B}`,
    `A wins ${pct(r.aWins)}   ties ${pct(r.ties)}   B wins ${pct(r.bWins)}   (Wilson 95%)`,
    `sign test (ties dropped): p = ${f(r.signTestP, 4)}`,
    `left answer won ${pct(r.position.leftWins)} of non-ties (position bias; sign test p = ${f(r.position.signTestP, 4)})`,
    `naturalness  A ${f(r.meanRatings.A.naturalness, 2)}  B ${f(r.meanRatings.B.naturalness, 2)}`,
    `helpfulness  A ${f(r.meanRatings.A.helpfulness, 2)}  B ${f(r.meanRatings.B.helpfulness, 2)}`,
    `repetitive   A ${pctOf(r.meanRatings.A.repetitionRate)}  B ${pctOf(r.meanRatings.B.repetitionRate)}`,
    `agreement: Cohen's kappa ${f(r.agreement.cohenKappa)}, Fleiss' kappa ${f(r.agreement.fleissKappa)} (${r.agreement.fleissItems} items), Krippendorff's alpha (ordinal): preference ${f(r.agreement.preferenceAlpha)}, naturalness ${f(r.agreement.naturalnessAlpha)}, helpfulness ${f(r.agreement.helpfulnessAlpha)}`,
  ].join('\n');
}
