/**
 * The study database: one SQLite file (better-sqlite3) holding any number of studies, their items
 * (prompt + the two systems' outputs), invited raters and judgements.
 *
 * Durability: WAL journal with synchronous=FULL, and every judgement is written in its own
 * transaction before the HTTP answer is sent, so a judgement the rater saw acknowledged survives a
 * SIGKILL of the server (and a power cut). One judgement per (rater, item): a resubmission replaces
 * the earlier one instead of adding a duplicate.
 *
 * Raters are known by an invite token; only its SHA-256 is stored.
 */
import Database from 'better-sqlite3';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type Preference = 'A' | 'B' | 'tie';

export interface StudyRow {
  id: number;
  name: string;
  created: string;
  sourceA: string;
  sourceB: string;
  settings: string;
}
export interface ItemRow {
  id: number;
  studyId: number;
  position: number;
  prompt: string;
  outputA: string;
  outputB: string;
}
export interface RaterRow {
  id: number;
  studyId: number;
  name: string;
  seed: number;
}
export interface JudgementInput {
  itemId: number;
  raterId: number;
  preference: Preference;
  /** Whether system A was shown on the left (recorded for position-bias analysis). */
  aLeft: boolean;
  naturalnessA: number;
  helpfulnessA: number;
  naturalnessB: number;
  helpfulnessB: number;
  repetitiveA: boolean;
  repetitiveB: boolean;
  comment: string;
}
export interface JudgementRow extends JudgementInput {
  id: number;
  created: string;
  raterName: string;
  position: number;
}

/** Bounds on everything that enters the database. */
export const LIMITS = {
  name: 64,
  prompt: 8000,
  output: 16000,
  comment: 2000,
  items: 20000,
} as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws unless `name` is a study or rater name (letters, digits, `.`, `_`, `-`; at most 64). */
export function checkName(what: string, name: string): string {
  if (!NAME_RE.test(name))
    throw new Error(
      `${what} "${name}" is not a valid name (expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)`,
    );
  return name;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
  source_a TEXT NOT NULL, source_b TEXT NOT NULL, settings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), position INTEGER NOT NULL,
  prompt TEXT NOT NULL, output_a TEXT NOT NULL, output_b TEXT NOT NULL, UNIQUE (study_id, position));
CREATE TABLE IF NOT EXISTS raters (
  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE, seed INTEGER NOT NULL, created TEXT NOT NULL, UNIQUE (study_id, name));
CREATE TABLE IF NOT EXISTS judgements (
  id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items(id), rater_id INTEGER NOT NULL REFERENCES raters(id),
  preference TEXT NOT NULL CHECK (preference IN ('A', 'B', 'tie')), a_left INTEGER NOT NULL CHECK (a_left IN (0, 1)),
  naturalness_a INTEGER NOT NULL CHECK (naturalness_a BETWEEN 1 AND 5), helpfulness_a INTEGER NOT NULL CHECK (helpfulness_a BETWEEN 1 AND 5),
  naturalness_b INTEGER NOT NULL CHECK (naturalness_b BETWEEN 1 AND 5), helpfulness_b INTEGER NOT NULL CHECK (helpfulness_b BETWEEN 1 AND 5),
  repetitive_a INTEGER NOT NULL CHECK (repetitive_a IN (0, 1)), repetitive_b INTEGER NOT NULL CHECK (repetitive_b IN (0, 1)),
  comment TEXT NOT NULL, created TEXT NOT NULL, UNIQUE (item_id, rater_id));
`;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** 32-bit mixing hash (murmur3 finaliser) for the per-rater order and sides. */
function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Whether the rater sees system A on the left for this item (fixed per rater and item, so a reload shows the same page). */
export function aOnLeft(rater: RaterRow, itemId: number): boolean {
  return (mix(rater.seed ^ mix(itemId + 0x9e3779b9)) & 1) === 1;
}

export class JudgeStore {
  readonly db: Database.Database;
  /** Per-rater item order (items never change once a study is created). */
  private orders = new Map<number, number[]>();

  constructor(
    readonly path: string,
    opts: { readonly?: boolean } = {},
  ) {
    this.db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      const mode = this.db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`${path}: could not switch SQLite to WAL mode (got ${String(mode)})`);
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.exec(SCHEMA);
    }
  }

  close(): void {
    this.db.close();
  }

  /** A secret kept in the database (survives restarts, so forms rendered before a restart still validate). */
  secret(key: 'csrf' | 'admin'): string {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    if (row) return row.value;
    const value = randomBytes(32).toString('base64url');
    this.db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, value);
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string }).value;
  }

  /** The CSRF token bound to one rater (or the admin) session. */
  csrfToken(sessionToken: string): string {
    return createHmac('sha256', this.secret('csrf')).update(sessionToken).digest('base64url');
  }

  checkCsrf(sessionToken: string, given: string): boolean {
    const want = Buffer.from(this.csrfToken(sessionToken));
    const got = Buffer.from(given);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  isAdminToken(token: string): boolean {
    const want = Buffer.from(hashToken(this.secret('admin')));
    const got = Buffer.from(hashToken(token));
    return timingSafeEqual(want, got);
  }

  createStudy(
    name: string,
    sourceA: string,
    sourceB: string,
    settings: Record<string, unknown>,
    items: { prompt: string; outputA: string; outputB: string }[],
  ): StudyRow {
    checkName('study', name);
    if (items.length === 0) throw new Error(`study ${name}: no items`);
    if (items.length > LIMITS.items) throw new Error(`study ${name}: ${items.length} items, at most ${LIMITS.items}`);
    items.forEach((it, i) => {
      if (it.prompt.length > LIMITS.prompt)
        throw new Error(
          `study ${name}: item ${i + 1}: the prompt has ${it.prompt.length} characters, at most ${LIMITS.prompt}`,
        );
      if (it.outputA.length > LIMITS.output || it.outputB.length > LIMITS.output)
        throw new Error(`study ${name}: item ${i + 1}: an output is longer than ${LIMITS.output} characters`);
    });
    if (this.study(name)) throw new Error(`study "${name}" already exists in ${this.path}`);
    const created = new Date().toISOString();
    const insert = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO studies (name, created, source_a, source_b, settings) VALUES (?, ?, ?, ?, ?)')
        .run(name, created, sourceA, sourceB, JSON.stringify(settings));
      const id = Number(info.lastInsertRowid);
      const st = this.db.prepare(
        'INSERT INTO items (study_id, position, prompt, output_a, output_b) VALUES (?, ?, ?, ?, ?)',
      );
      items.forEach((it, i) => st.run(id, i + 1, it.prompt, it.outputA, it.outputB));
      return id;
    });
    const id = insert();
    return { id, name, created, sourceA, sourceB, settings: JSON.stringify(settings) };
  }

  studies(): StudyRow[] {
    return this.db
      .prepare('SELECT id, name, created, source_a AS sourceA, source_b AS sourceB, settings FROM studies ORDER BY id')
      .all() as StudyRow[];
  }

  study(nameOrId: string | number): StudyRow | undefined {
    const col = typeof nameOrId === 'number' ? 'id' : 'name';
    return this.db
      .prepare(
        `SELECT id, name, created, source_a AS sourceA, source_b AS sourceB, settings FROM studies WHERE ${col} = ?`,
      )
      .get(nameOrId) as StudyRow | undefined;
  }

  items(studyId: number): ItemRow[] {
    return this.db
      .prepare(
        'SELECT id, study_id AS studyId, position, prompt, output_a AS outputA, output_b AS outputB FROM items WHERE study_id = ? ORDER BY position',
      )
      .all(studyId) as ItemRow[];
  }

  item(id: number): ItemRow | undefined {
    return this.db
      .prepare(
        'SELECT id, study_id AS studyId, position, prompt, output_a AS outputA, output_b AS outputB FROM items WHERE id = ?',
      )
      .get(id) as ItemRow | undefined;
  }

  /** Invites a rater to a study; returns the token (shown once; only its hash is stored). */
  invite(studyId: number, name: string): { rater: RaterRow; token: string } {
    checkName('rater', name);
    const token = randomBytes(24).toString('base64url');
    const seed = randomBytes(4).readUInt32LE(0);
    try {
      const info = this.db
        .prepare('INSERT INTO raters (study_id, name, token_hash, seed, created) VALUES (?, ?, ?, ?, ?)')
        .run(studyId, name, hashToken(token), seed, new Date().toISOString());
      return { rater: { id: Number(info.lastInsertRowid), studyId, name, seed }, token };
    } catch (err) {
      if (String(err).includes('UNIQUE'))
        throw new Error(`rater "${name}" is already invited to this study`, { cause: err });
      throw err;
    }
  }

  raterByToken(token: string): RaterRow | undefined {
    if (token.length === 0 || token.length > 128) return undefined;
    return this.db
      .prepare('SELECT id, study_id AS studyId, name, seed FROM raters WHERE token_hash = ?')
      .get(hashToken(token)) as RaterRow | undefined;
  }

  raters(studyId: number): RaterRow[] {
    return this.db
      .prepare('SELECT id, study_id AS studyId, name, seed FROM raters WHERE study_id = ? ORDER BY id')
      .all(studyId) as RaterRow[];
  }

  /** The rater's item ids in their own random order (Fisher-Yates seeded by the rater). */
  order(rater: RaterRow): number[] {
    const cached = this.orders.get(rater.id);
    if (cached) return cached;
    const ids = (
      this.db.prepare('SELECT id FROM items WHERE study_id = ? ORDER BY position').all(rater.studyId) as {
        id: number;
      }[]
    ).map((r) => r.id);
    let s = rater.seed;
    for (let i = ids.length - 1; i > 0; i--) {
      s = mix(s + 0x6d2b79f5);
      const j = s % (i + 1);
      const t = ids[i] as number;
      ids[i] = ids[j] as number;
      ids[j] = t;
    }
    this.orders.set(rater.id, ids);
    return ids;
  }

  /** Next item the rater has not judged (in their order), and their progress. */
  next(rater: RaterRow): { item: ItemRow | undefined; done: number; total: number } {
    const judged = new Set(
      (
        this.db.prepare('SELECT item_id AS itemId FROM judgements WHERE rater_id = ?').all(rater.id) as {
          itemId: number;
        }[]
      ).map((r) => r.itemId),
    );
    const order = this.order(rater);
    const nextId = order.find((id) => !judged.has(id));
    return { item: nextId === undefined ? undefined : this.item(nextId), done: judged.size, total: order.length };
  }

  /** Stores (or replaces) one judgement, committed before returning. */
  saveJudgement(j: JudgementInput): void {
    this.db
      .prepare(
        `INSERT INTO judgements (item_id, rater_id, preference, a_left, naturalness_a, helpfulness_a, naturalness_b, helpfulness_b, repetitive_a, repetitive_b, comment, created)
      VALUES (@itemId, @raterId, @preference, @aLeft, @naturalnessA, @helpfulnessA, @naturalnessB, @helpfulnessB, @repetitiveA, @repetitiveB, @comment, @created)
      ON CONFLICT (item_id, rater_id) DO UPDATE SET preference = excluded.preference, a_left = excluded.a_left,
        naturalness_a = excluded.naturalness_a, helpfulness_a = excluded.helpfulness_a, naturalness_b = excluded.naturalness_b,
        helpfulness_b = excluded.helpfulness_b, repetitive_a = excluded.repetitive_a, repetitive_b = excluded.repetitive_b,
        comment = excluded.comment, created = excluded.created`,
      )
      .run({
        ...j,
        aLeft: j.aLeft ? 1 : 0,
        repetitiveA: j.repetitiveA ? 1 : 0,
        repetitiveB: j.repetitiveB ? 1 : 0,
        created: new Date().toISOString(),
      });
  }

  judgements(studyId: number): JudgementRow[] {
    const rows = this.db
      .prepare(
        `SELECT j.id, j.item_id AS itemId, j.rater_id AS raterId, r.name AS raterName, i.position, j.preference, j.a_left AS aLeft,
        j.naturalness_a AS naturalnessA, j.helpfulness_a AS helpfulnessA, j.naturalness_b AS naturalnessB, j.helpfulness_b AS helpfulnessB,
        j.repetitive_a AS repetitiveA, j.repetitive_b AS repetitiveB, j.comment, j.created
      FROM judgements j JOIN items i ON i.id = j.item_id JOIN raters r ON r.id = j.rater_id
      WHERE i.study_id = ? ORDER BY i.position, r.id`,
      )
      .all(studyId) as (Omit<JudgementRow, 'aLeft' | 'repetitiveA' | 'repetitiveB'> & {
      aLeft: number;
      repetitiveA: number;
      repetitiveB: number;
    })[];
    return rows.map((r) => ({
      ...r,
      aLeft: r.aLeft === 1,
      repetitiveA: r.repetitiveA === 1,
      repetitiveB: r.repetitiveB === 1,
    }));
  }
}
