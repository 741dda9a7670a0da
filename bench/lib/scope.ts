/**
 * A stack of teardowns: what was started last is stopped first. close() runs every teardown even
 * when some fail, then throws the first failure; after close() nothing more may be deferred.
 */

export type Teardown = () => void | Promise<void>;

export class Scope {
  readonly #stack: Teardown[] = [];
  #closed = false;

  defer(teardown: Teardown): void {
    if (this.#closed) throw new Error("scope already closed");
    this.#stack.push(teardown);
  }

  async close(): Promise<void> {
    this.#closed = true;
    let first: unknown = undefined;
    for (let t = this.#stack.pop(); t; t = this.#stack.pop()) {
      try {
        await t();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}

/** Run body in a fresh scope and close it on every path; body's own error wins over a teardown error. */
export async function withScope<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  let result: T;
  try {
    result = await body(scope);
  } catch (err) {
    await scope.close().catch(() => undefined);
    throw err;
  }
  await scope.close();
  return result;
}
