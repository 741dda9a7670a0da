/**
 * The embedded SQL database the port offers (SQLite on both runtimes). Small on purpose: the
 * stores need statements with positional parameters and transactions, nothing more.
 * Durability: every database is opened in WAL mode with synchronous=FULL, so a write that
 * returned has reached the disk and survives a crash of the process or the machine.
 */

export type SqlValue = string | number | bigint | Uint8Array | null;

export interface SqlRunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

export interface SqlDatabase {
  /** Run one or more statements without parameters or results (schema, pragmas). */
  exec(sql: string): void;
  run(sql: string, params?: readonly SqlValue[]): SqlRunResult;
  all<Row extends object>(sql: string, params?: readonly SqlValue[]): Row[];
  get<Row extends object>(sql: string, params?: readonly SqlValue[]): Row | undefined;
  /** Run `fn` in an IMMEDIATE transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** Pragmas every mesh database gets, whichever runtime opened it. */
export const DATABASE_PRAGMAS = [
  "PRAGMA journal_mode = WAL",
  "PRAGMA synchronous = FULL",
  "PRAGMA busy_timeout = 5000",
  "PRAGMA foreign_keys = ON",
] as const;

/** BEGIN/COMMIT/ROLLBACK around `fn`, for drivers without a transaction helper. */
export function runInTransaction<T>(exec: (sql: string) => void, fn: () => T): T {
  exec("BEGIN IMMEDIATE");
  let result: T;
  try {
    result = fn();
  } catch (err) {
    exec("ROLLBACK");
    throw err;
  }
  exec("COMMIT");
  return result;
}
