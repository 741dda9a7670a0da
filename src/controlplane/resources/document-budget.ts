/**
 * What one request (or one `mesh apply -f`) may hand the document parser, counted as it goes.
 * The API parser and the CLI reader share this one budget, so both refuse the same input with
 * the same message, and both refuse it early:
 * - bytes: counted before anything is read or parsed;
 * - documents: every YAML document counts, empty or not (a body of 1M `---` lines used to parse
 *   them all before the limit looked at the non-empty ones: 11.7 s and 2.1 GB), and every item of
 *   a `List` counts; the parser counts while it streams, so it stops at the first one too many;
 * - tokens: YAML lexemes, which bound the parser's time and memory for what a document may hold
 *   (a 4 MiB flow sequence of 1.9M scalars took 13.9 s and 1.9 GB; the budget stops it after
 *   about 0.4 s on an idle machine). Strict JSON bodies take the native path (api/documents.ts) and spend no tokens.
 * Every refusal is a MeshError("invalid_argument") naming the source and the limit.
 */
import { MeshError } from "../../errors/mesh-error.ts";

export const LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxDocuments: 1000,
  maxDepth: 64,
  maxAliases: 100,
  /** YAML lexemes per text: about 30,000 lines of block YAML (some 2,500 resources the size of bookinfo's). */
  maxTokens: 200_000,
} as const;

export interface DocumentLimits {
  readonly maxBytes: number;
  readonly maxDocuments: number;
  readonly maxTokens: number;
}

export class DocumentBudget {
  readonly #source: string;
  readonly #limits: DocumentLimits;
  #bytes = 0;
  #documents = 0;
  #tokens = 0;

  constructor(source: string, limits: DocumentLimits = LIMITS) {
    this.#source = source;
    this.#limits = limits;
  }

  /** Text about to be read or parsed (its length in UTF-16 units, or a file's size in bytes). */
  addBytes(n: number): void {
    this.#bytes += n;
    if (this.#bytes > this.#limits.maxBytes) throw this.#refuse(`larger than ${this.#limits.maxBytes} bytes`);
  }

  /** `n` more documents (a List's items; 1 for any other document, empty ones included). */
  addDocuments(n: number): void {
    this.#documents += n;
    if (this.#documents > this.#limits.maxDocuments) throw this.#refuse(`more than ${this.#limits.maxDocuments} documents (empty ones count too)`);
  }

  /** One more YAML lexeme. */
  addToken(): void {
    if (++this.#tokens > this.#limits.maxTokens) {
      throw this.#refuse(`more than ${this.#limits.maxTokens} YAML tokens (about 30,000 lines); send large configs as JSON or in several requests`);
    }
  }

  get documents(): number {
    return this.#documents;
  }

  #refuse(why: string): MeshError {
    return new MeshError("invalid_argument", `${this.#source}: ${why}`);
  }
}
