/**
 * The rating web app (Hono on Node's HTTP server).
 *
 * Security model:
 *  - Listens on 127.0.0.1 by default; any other address needs `allowRemote` (the CLI's --public), and
 *    on loopback the Host header must be a loopback name (no DNS rebinding).
 *  - Every rater page needs the rater's invite token (GET /join?token=... stores it in an HttpOnly,
 *    SameSite=Strict cookie scoped to that study); the results pages need the admin token. A rater
 *    sees only their own next item and progress, never which system is which (A/B are shown on a
 *    fixed random side per rater and item) nor anyone else's answers.
 *  - Forms are CSRF-safe three ways: SameSite=Strict cookies, Hono's csrf() origin check, and a
 *    per-session HMAC token in a hidden field.
 *  - Bodies are capped (bodyLimit), every field is validated (unknown fields are refused), and all
 *    output is escaped by the templates; the Content-Security-Policy allows no inline script.
 *  - Each judgement is committed (WAL, synchronous=FULL) before the 303 answer is sent.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { secureHeaders } from 'hono/secure-headers';
import type { AddressInfo } from 'node:net';
import { JUDGE_CSS, JUDGE_JS } from './assets.js';
import { adminPage, donePage, messagePage, ratePage, resultsPage } from './pages.js';
import { judgementsCsv, resultsJson, studyResults } from './results.js';
import { aOnLeft, JudgeStore, LIMITS, type JudgementInput, type RaterRow, type StudyRow } from './store.js';

const ADMIN_COOKIE = 'judge_admin';
const raterCookie = (studyId: number): string => `judge_s${studyId}`;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY = 16 * 1024;

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Parses an id from a path segment (digits only, bounded). */
function idParam(s: string | undefined): number | null {
  return s !== undefined && /^[1-9][0-9]{0,9}$/.test(s) ? Number(s) : null;
}

class BadRequest extends Error {}

const FORM_FIELDS = new Set([
  'csrf',
  'item',
  'preference',
  'naturalness_left',
  'helpfulness_left',
  'naturalness_right',
  'helpfulness_right',
  'repetitive_left',
  'repetitive_right',
  'comment',
]);

/** Validates a rating form (left/right as shown) and maps it to systems A/B. */
function parseJudgement(
  form: Record<string, unknown>,
  rater: RaterRow,
  aLeftOf: (itemId: number) => boolean,
): JudgementInput {
  for (const k of Object.keys(form))
    if (!FORM_FIELDS.has(k)) throw new BadRequest(`unexpected field "${k.slice(0, 40)}"`);
  const str = (k: string): string | undefined => {
    const v = form[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new BadRequest(`field "${k}" must be a single text value`);
    return v;
  };
  const item = idParam(str('item'));
  if (item === null) throw new BadRequest('field "item" must be an item id');
  const rating = (k: string): number => {
    const v = str(k);
    if (v === undefined || !/^[1-5]$/.test(v)) throw new BadRequest(`field "${k}" must be a rating from 1 to 5`);
    return Number(v);
  };
  const flag = (k: string): boolean => {
    const v = str(k);
    if (v !== undefined && v !== '1') throw new BadRequest(`field "${k}" must be "1" or absent`);
    return v === '1';
  };
  const pref = str('preference');
  if (pref !== 'left' && pref !== 'right' && pref !== 'tie')
    throw new BadRequest('field "preference" must be left, tie or right');
  const comment = (str('comment') ?? '').replace(/\r\n/g, '\n');
  if (comment.length > LIMITS.comment)
    throw new BadRequest(`the comment has ${comment.length} characters, at most ${LIMITS.comment}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(comment))
    throw new BadRequest('the comment contains control characters');
  const aLeft = aLeftOf(item);
  const side = (s: 'left' | 'right'): 'A' | 'B' => ((s === 'left') === aLeft ? 'A' : 'B');
  const sideA = aLeft ? 'left' : 'right';
  const sideB = aLeft ? 'right' : 'left';
  return {
    itemId: item,
    raterId: rater.id,
    preference: pref === 'tie' ? 'tie' : side(pref),
    aLeft,
    naturalnessA: rating(`naturalness_${sideA}`),
    helpfulnessA: rating(`helpfulness_${sideA}`),
    naturalnessB: rating(`naturalness_${sideB}`),
    helpfulnessB: rating(`helpfulness_${sideB}`),
    repetitiveA: flag(`repetitive_${sideA}`),
    repetitiveB: flag(`repetitive_${sideB}`),
    comment,
  };
}

export interface AppOptions {
  /** Check the Host header against loopback names (set when listening on loopback). */
  loopbackOnly: boolean;
  /** Cookies get the Secure flag (behind an HTTPS proxy). */
  secureCookies?: boolean;
}

/** The Hono app over an open store. */
export function createApp(store: JudgeStore, opts: AppOptions): Hono {
  const app = new Hono();
  const cookieOpts = { httpOnly: true, sameSite: 'Strict' as const, secure: opts.secureCookies ?? false };

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      strictTransportSecurity: false, // plain HTTP on loopback; an HTTPS proxy in front sets its own
    }),
  );
  app.use('*', async (c, next) => {
    if (opts.loopbackOnly) {
      // The request URL's host comes from the Host header (node-server builds it from there).
      const host = new URL(c.req.url).hostname.replace(/^\[(.*)\]$/, '$1');
      if (!isLoopback(host)) return c.text('Forbidden host', 403);
    }
    await next();
    c.header('Cache-Control', 'no-store');
  });
  app.use('*', csrf());
  app.use('*', bodyLimit({ maxSize: MAX_BODY, onError: (c) => c.text('Request body too large', 413) }));

  app.get('/static/judge.css', (c) => c.body(JUDGE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }));
  app.get('/static/judge.js', (c) => c.body(JUDGE_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/', (c) => c.html(messagePage('tunekit judge', 'Open the invite link you were given.')));

  app.get('/join', (c) => {
    const token = c.req.query('token') ?? '';
    const rater = store.raterByToken(token);
    if (!rater) return c.html(messagePage('Invalid invite', 'This invite link is not valid.'), 403);
    setCookie(c, raterCookie(rater.studyId), token, { ...cookieOpts, path: `/s/${rater.studyId}` });
    return c.redirect(`/s/${rater.studyId}`, 303);
  });

  /** The rater of this study's session cookie, or null. */
  const raterOf = (c: Context, studyId: number): { rater: RaterRow; token: string } | null => {
    const token = getCookie(c, raterCookie(studyId)) ?? '';
    const rater = store.raterByToken(token);
    return rater && rater.studyId === studyId ? { rater, token } : null;
  };
  const studyOf = (c: Context): StudyRow | undefined => {
    const id = idParam(c.req.param('sid'));
    return id === null ? undefined : store.study(id);
  };
  const refuse = (c: Context) =>
    c.html(messagePage('Not allowed', 'You need a valid invite link for this study.'), 403);

  app.get('/s/:sid', (c) => {
    const study = studyOf(c);
    const who = study ? raterOf(c, study.id) : null;
    if (!study || !who) return refuse(c);
    const { item, done, total } = store.next(who.rater);
    if (!item) return c.html(donePage(study, done, total));
    return c.html(ratePage(study, item, aOnLeft(who.rater, item.id), done, total, store.csrfToken(who.token)));
  });

  app.post('/s/:sid/judge', async (c) => {
    const study = studyOf(c);
    const who = study ? raterOf(c, study.id) : null;
    if (!study || !who) return refuse(c);
    const form = await c.req.parseBody({ all: true });
    const token = form.csrf;
    if (typeof token !== 'string' || !store.checkCsrf(who.token, token))
      return c.html(messagePage('Form expired', 'Reload the page and submit again.'), 403);
    let j: JudgementInput;
    try {
      j = parseJudgement(form, who.rater, (itemId) => aOnLeft(who.rater, itemId));
    } catch (err) {
      if (err instanceof BadRequest) return c.html(messagePage('Invalid answer', err.message), 400);
      throw err;
    }
    const item = store.item(j.itemId);
    if (!item || item.studyId !== study.id)
      return c.html(messagePage('Invalid answer', 'That item is not part of this study.'), 400);
    store.saveJudgement(j); // committed before the answer goes out
    return c.redirect(`/s/${study.id}`, 303);
  });

  app.get('/admin/join', (c) => {
    const token = c.req.query('token') ?? '';
    if (!store.isAdminToken(token)) return c.html(messagePage('Not allowed', 'This admin link is not valid.'), 403);
    setCookie(c, ADMIN_COOKIE, token, { ...cookieOpts, path: '/admin' });
    return c.redirect('/admin', 303);
  });
  app.use('/admin/*', async (c, next) => {
    if (c.req.path === '/admin/join') return next();
    if (!store.isAdminToken(getCookie(c as Context, ADMIN_COOKIE) ?? ''))
      return c.html(
        messagePage('Not allowed', 'The results need the admin link printed by `tunekit judge serve`.'),
        403,
      );
    await next();
  });
  app.get('/admin', (c) => {
    if (!store.isAdminToken(getCookie(c, ADMIN_COOKIE) ?? '')) return refuse(c);
    const rows = store.studies().map((study) => {
      const r = studyResults(store, study.id);
      return { study, items: r.items, raters: store.raters(study.id).length, judgements: r.judgements };
    });
    return c.html(adminPage(rows));
  });
  app.get('/admin/s/:sid', (c) => {
    const study = studyOf(c);
    if (!study) return c.html(messagePage('Not found', 'No such study.'), 404);
    return c.html(resultsPage(study, studyResults(store, study.id), store.judgements(study.id)));
  });
  app.get('/admin/s/:sid/results.json', (c) => {
    const study = studyOf(c);
    if (!study) return c.text('No such study', 404);
    return c.body(resultsJson(store, study), 200, { 'Content-Type': 'application/json; charset=utf-8' });
  });
  app.get('/admin/s/:sid/judgements.csv', (c) => {
    const study = studyOf(c);
    if (!study) return c.text('No such study', 404);
    return c.body(judgementsCsv(store, study), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${study.name}.csv"`,
    });
  });

  app.notFound((c) => c.html(messagePage('Not found', 'No such page.'), 404));
  app.onError((err, c) => {
    if ('getResponse' in err && typeof err.getResponse === 'function') return err.getResponse();
    process.stderr.write(`judge: ${err.stack ?? err.message}\n`);
    return c.html(messagePage('Server error', 'Something went wrong; nothing was saved from this request.'), 500);
  });
  return app;
}

export interface ServeOptions {
  db: string;
  host?: string;
  port?: number;
  /** Needed to listen on anything but loopback. */
  allowRemote?: boolean;
  secureCookies?: boolean;
}

export interface RunningServer {
  url: string;
  adminUrl: string;
  store: JudgeStore;
  server: ServerType;
  close(): Promise<void>;
}

/** Opens the database and starts the app; resolves once listening. */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!loopback && !opts.allowRemote) {
    throw new Error(
      `--host ${host}: serving beyond this machine needs --public (raters then need their invite links; put it behind HTTPS)`,
    );
  }
  const port = opts.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port ${port}: expected an integer from 0 to 65535`);
  const store = new JudgeStore(opts.db);
  const app = createApp(store, { loopbackOnly: loopback, secureCookies: opts.secureCookies ?? false });
  return new Promise((resolveP, rejectP) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const url = `http://${shown}:${info.port}`;
      resolveP({
        url,
        adminUrl: `${url}/admin/join?token=${store.secret('admin')}`,
        store,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => {
              store.close();
              done();
            });
            if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function')
              server.closeAllConnections();
          }),
      });
    });
    server.on('error', (err: Error) => {
      store.close();
      rejectP(err);
    });
  });
}
