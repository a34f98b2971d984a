/**
 * HTML pages, written with Hono's `html` tagged template: every interpolated value is escaped
 * (only other `html` fragments pass through), so prompts, outputs, comments and names always render
 * as text.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { StudyResults, Rate } from './results.js';
import type { ItemRow, JudgementRow, StudyRow } from './store.js';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export function layout(title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="/static/judge.css" />
      </head>
      <body>
        ${body}
        <script src="/static/judge.js"></script>
      </body>
    </html>`;
}

export function messagePage(title: string, message: string): Html {
  return layout(
    title,
    html`<h1>${title}</h1>
      <p class="error" id="message">${message}</p>`,
  );
}

function scale(group: string, label: string): Html {
  return html`<fieldset data-group="${group}">
    <legend>${label} (1 = poor, 5 = excellent)</legend>
    ${[1, 2, 3, 4, 5].map((v) => html`<label><input type="radio" name="${group}" value="${v}" required /> ${v}</label>`)}
  </fieldset>`;
}

function answer(side: 'left' | 'right', n: number, text: string): Html {
  return html`<article id="answer-${side}">
    <h2>Answer ${n}</h2>
    <div class="text output" id="output-${side}">${text}</div>
    ${scale(`naturalness_${side}`, 'Naturalness')}${scale(`helpfulness_${side}`, 'Helpfulness')}
    <label><input type="checkbox" name="repetitive_${side}" value="1" /> Repetitive</label>
  </article>`;
}

/** The rating page: the prompt and the two answers, A and B in the rater's fixed random order. */
export function ratePage(
  study: StudyRow,
  item: ItemRow,
  aLeft: boolean,
  done: number,
  total: number,
  csrf: string,
): Html {
  const left = aLeft ? item.outputA : item.outputB;
  const right = aLeft ? item.outputB : item.outputA;
  return layout(
    `${study.name}: rate`,
    html`<header>
        <h1>${study.name}</h1>
        <p id="progress">${done} of ${total} done <progress value="${done}" max="${total}"></progress></p>
      </header>
      <section>
        <h2>Prompt</h2>
        <div class="text" id="prompt">${item.prompt}</div>
      </section>
      <form method="post" action="/s/${study.id}/judge" id="judge-form">
        <input type="hidden" name="csrf" value="${csrf}" /><input type="hidden" name="item" value="${item.id}" />
        <div class="answers">${answer('left', 1, left)}${answer('right', 2, right)}</div>
        <fieldset data-group="preference">
          <legend>Which answer is better?</legend>
          <label><input type="radio" name="preference" value="left" required /> Answer 1</label>
          <label><input type="radio" name="preference" value="tie" /> Tie</label>
          <label><input type="radio" name="preference" value="right" /> Answer 2</label>
        </fieldset>
        <label for="comment">Comment (optional)</label>
        <textarea id="comment" name="comment" maxlength="2000"></textarea>
        <p><button type="submit">Submit</button></p>
      </form>
      <p class="help">
        Keys: <kbd>1</kbd>-<kbd>5</kbd> rate the highlighted scale, <kbd>a</kbd>/<kbd>s</kbd>/<kbd>d</kbd> answer 1
        better / tie / answer 2 better, <kbd>z</kbd>/<kbd>x</kbd> repetitive 1/2, <kbd>c</kbd> comment (<kbd>Esc</kbd>
        leaves it), <kbd>Enter</kbd> submit (<kbd>Ctrl</kbd>+<kbd>Enter</kbd> in the comment).
      </p>`,
  );
}

export function donePage(study: StudyRow, done: number, total: number): Html {
  return layout(
    `${study.name}: done`,
    html`<h1>${study.name}</h1>
      <p id="progress">${done} of ${total} done</p>
      <p id="done">Thank you: you have rated every item of this study.</p>`,
  );
}

export function adminPage(studies: { study: StudyRow; items: number; raters: number; judgements: number }[]): Html {
  return layout(
    'Studies',
    html`<h1>Studies</h1>
      <table>
        <tr>
          <th>study</th>
          <th>items</th>
          <th>raters</th>
          <th>judgements</th>
        </tr>
        ${studies.map(
          (s) =>
            html`<tr>
              <td><a href="/admin/s/${s.study.id}">${s.study.name}</a></td>
              <td>${s.items}</td>
              <td>${s.raters}</td>
              <td>${s.judgements}</td>
            </tr>`,
        )}
      </table>
      <p class="help">Invite a rater: <code>tunekit judge invite --db FILE --study NAME --rater NAME</code></p>`,
  );
}

const num = (id: string, x: number | null, digits: number): Html =>
  html`<td id="${id}" data-value="${x === null || !Number.isFinite(x) ? '' : String(x)}">
    ${x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits)}
  </td>`;

function rateRow(label: string, id: string, r: Rate): Html {
  return html`<tr>
    <th>${label}</th>
    <td id="${id}-count" data-value="${r.count}">${r.count}</td>
    ${num(`${id}-rate`, r.rate, 3)}${num(`${id}-low`, r.ci95[0], 3)}${num(`${id}-high`, r.ci95[1], 3)}
  </tr>`;
}

export function resultsPage(study: StudyRow, r: StudyResults, judgements: readonly JudgementRow[]): Html {
  const m = r.meanRatings;
  const a = r.agreement;
  return layout(
    `${study.name}: results`,
    html`<h1>Results: ${study.name}</h1>
      <p>
        A = <code>${r.systems.A}</code>, B = <code>${r.systems.B}</code>.
        <span id="judgement-count" data-value="${r.judgements}">${r.judgements}</span> judgements of ${r.items} items by
        ${r.raters} rater(s). Export: <a href="/admin/s/${study.id}/results.json">JSON</a>,
        <a href="/admin/s/${study.id}/judgements.csv">CSV</a>.
      </p>
      <h2>Preference</h2>
      <table>
        <tr>
          <th></th>
          <th>count</th>
          <th>rate</th>
          <th>95% low</th>
          <th>95% high</th>
        </tr>
        ${rateRow('A better', 'a-wins', r.aWins)}${rateRow('tie', 'ties', r.ties)}${rateRow('B better', 'b-wins', r.bWins)}
      </table>
      <p class="help">Wilson score 95% intervals.</p>
      <table>
        <tr>
          <th>Exact two-sided sign test of A against B (ties dropped): p</th>
          ${num('sign-p', r.signTestP, 4)}
        </tr>
      </table>
      <table>
        <tr>
          <th>Position bias: the left answer won (of non-ties)</th>
          <td id="left-wins-count" data-value="${r.position.leftWins.count}">${r.position.leftWins.count}</td>
          ${num('left-wins-rate', r.position.leftWins.rate, 3)}${num('left-wins-low', r.position.leftWins.ci95[0], 3)}${num('left-wins-high', r.position.leftWins.ci95[1], 3)}
          <th>sign test p</th>
          ${num('left-wins-p', r.position.signTestP, 4)}
        </tr>
      </table>
      <h2>Mean ratings</h2>
      <table>
        <tr>
          <th></th>
          <th>naturalness</th>
          <th>helpfulness</th>
          <th>repetitive</th>
        </tr>
        <tr>
          <th>A</th>
          ${num('a-naturalness', m.A.naturalness, 2)}${num('a-helpfulness', m.A.helpfulness, 2)}${num('a-repetition', m.A.repetitionRate, 3)}
        </tr>
        <tr>
          <th>B</th>
          ${num('b-naturalness', m.B.naturalness, 2)}${num('b-helpfulness', m.B.helpfulness, 2)}${num('b-repetition', m.B.repetitionRate, 3)}
        </tr>
      </table>
      <h2>Agreement between raters</h2>
      <table>
        <tr>
          <th>Cohen's kappa (preference, 2 raters)</th>
          ${num('cohen-kappa', a.cohenKappa, 3)}
        </tr>
        <tr>
          <th>Fleiss' kappa (preference, ${a.fleissItems} items judged by every rater)</th>
          ${num('fleiss-kappa', a.fleissKappa, 3)}
        </tr>
        <tr>
          <th>Krippendorff's alpha, ordinal: preference</th>
          ${num('alpha-preference', a.preferenceAlpha, 3)}
        </tr>
        <tr>
          <th>Krippendorff's alpha, ordinal: naturalness</th>
          ${num('alpha-naturalness', a.naturalnessAlpha, 3)}
        </tr>
        <tr>
          <th>Krippendorff's alpha, ordinal: helpfulness</th>
          ${num('alpha-helpfulness', a.helpfulnessAlpha, 3)}
        </tr>
      </table>
      <h2>Comments</h2>
      <table id="comments">
        <tr>
          <th>item</th>
          <th>rater</th>
          <th>preference</th>
          <th>comment</th>
        </tr>
        ${judgements
          .filter((j) => j.comment !== '')
          .map(
            (j) =>
              html`<tr>
                <td>${j.position}</td>
                <td>${j.raterName}</td>
                <td>${j.preference}</td>
                <td class="comment">${j.comment}</td>
              </tr>`,
          )}
      </table>`,
  );
}
