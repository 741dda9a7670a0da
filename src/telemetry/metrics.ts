/**
 * Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
 * exposition format (version 0.0.4). A series is looked up once and kept by the caller on hot
 * paths (`counter.labels({...})` returns a handle), so recording is an addition, not a map lookup.
 */

export type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(out: string[]): void;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return Number.isNaN(n) ? "NaN" : String(n);
}

abstract class LabelledFamily<S> implements Family {
  abstract readonly type: Family["type"];
  protected readonly series = new Map<string, { values: string[]; s: S }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
  }
  protected abstract create(): S;
  labels(labels: Labels = {}): S {
    const values = this.labelNames.map((n) => labels[n] ?? "");
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) this.series.set(key, (entry = { values, s: this.create() }));
    return entry.s;
  }
  /** Forget a series (e.g. a proxy that disconnected). */
  remove(labels: Labels): void {
    this.series.delete(this.labelNames.map((n) => labels[n] ?? "").join("\u0000"));
  }
  abstract render(out: string[]): void;
}

/** Counters and gauges: one number per series. */
abstract class ValueFamily<S extends { readonly value: number }> extends LabelledFamily<S> {
  render(out: string[]): void {
    for (const { values, s } of this.series.values()) out.push(`${this.name}${labelText(this.labelNames, values)} ${formatNumber(s.value)}`);
  }
}

export interface CounterSeries {
  inc(by?: number): void;
  readonly value: number;
}

export class Counter extends ValueFamily<CounterSeries> {
  readonly type = "counter" as const;
  protected create(): CounterSeries {
    let value = 0;
    return {
      inc: (by = 1) => void (value += by),
      get value() {
        return value;
      },
    };
  }
}

export interface GaugeSeries {
  set(v: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
  readonly value: number;
}

export class Gauge extends ValueFamily<GaugeSeries> {
  readonly type = "gauge" as const;
  protected create(): GaugeSeries {
    let value = 0;
    return {
      set: (v) => void (value = v),
      inc: (by = 1) => void (value += by),
      dec: (by = 1) => void (value -= by),
      get value() {
        return value;
      },
    };
  }
}

export interface HistogramSeries {
  observe(v: number): void;
  readonly count: number;
  readonly sum: number;
  readonly buckets: readonly number[];
}

export class Histogram extends LabelledFamily<HistogramSeries> {
  readonly type = "histogram" as const;
  constructor(name: string, help: string, labelNames: readonly string[], readonly bounds: readonly number[]) {
    super(name, help, labelNames);
  }
  protected create(): HistogramSeries {
    const buckets = new Array<number>(this.bounds.length).fill(0);
    let count = 0;
    let sum = 0;
    const bounds = this.bounds;
    return {
      observe: (v) => {
        count++;
        sum += v;
        for (let i = 0; i < bounds.length; i++) if (v <= (bounds[i] as number)) buckets[i] = (buckets[i] as number) + 1;
      },
      get count() {
        return count;
      },
      get sum() {
        return sum;
      },
      buckets,
    };
  }
  render(out: string[]): void {
    for (const { values, s } of this.series.values()) {
      this.bounds.forEach((b, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${formatNumber(b)}"`)} ${s.buckets[i]}`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatNumber(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
    }
  }
}

export class MetricsRegistry {
  readonly #families = new Map<string, Family>();
  readonly #collectors: Array<() => void> = [];

  #add<F extends Family>(family: F): F {
    if (this.#families.has(family.name)) throw new Error(`metric ${family.name} registered twice`);
    this.#families.set(family.name, family);
    return family;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, bounds));
  }
  /** Run before each render, to refresh gauges computed from state (e.g. resident memory). */
  onCollect(fn: () => void): void {
    this.#collectors.push(fn);
  }
  render(): string {
    for (const c of this.#collectors) c();
    const out: string[] = [];
    for (const f of this.#families.values()) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${f.name} ${f.type}`);
      f.render(out);
    }
    return out.join("\n") + "\n";
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
