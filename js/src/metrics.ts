// The server's /metrics (Prometheus text exposition 0.0.4) parsed into samples.
//   # TYPE ax_requests_running gauge
//   ax_requests_running 2
//   ax_http_requests_total{route="/health",status="200"} 3
//   -> { name: "ax_http_requests_total", labels: { route: "/health", status: "200" }, value: 3 }

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Metrics {
  /** Every sample, in the order the server wrote them. */
  readonly samples: MetricSample[];
  /** Each metric family's type ("counter", "gauge", "histogram", ...) by family name. */
  readonly types: Record<string, string>;
  /** Each family's help text. */
  readonly help: Record<string, string>;

  constructor(samples: MetricSample[], types: Record<string, string>, help: Record<string, string>) {
    this.samples = samples;
    this.types = types;
    this.help = help;
  }

  /** The value of the first sample with this name whose labels include `labels`; undefined if none. */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.all(name, labels)[0]?.value;
  }

  /** Every sample with this name whose labels include `labels`. */
  all(name: string, labels: Record<string, string> = {}): MetricSample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The sum of the samples with this name (e.g. a counter over all its label values). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.all(name, labels).reduce((total, s) => total + s.value, 0);
  }
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`not a sample value: '${text}'`);
  return v;
}

// {a="x",b="y \"q\""} from position i (at '{'): the labels and the position after '}'.
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`bad label at column ${i}`);
    const key = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\' && j + 1 < line.length) {
        j++;
        value += line[j] === 'n' ? '\n' : line[j];
      } else {
        value += line[j];
      }
    }
    if (j >= line.length) throw new Error(`unterminated label value at column ${eq + 2}`);
    labels[key] = value;
    i = j + 1;
  }
}

/** Parses a Prometheus text exposition; a line that is not a sample or a comment throws, naming it. */
export function parseMetrics(text: string): Metrics {
  const samples: MetricSample[] = [];
  const types: Record<string, string> = {};
  const help: Record<string, string> = {};
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*(TYPE|HELP)\s+(\S+)\s*(.*)$/.exec(line);
      if (m) (m[1] === 'TYPE' ? types : help)[m[2]] = m[3];
      return;
    }
    try {
      const nameEnd = line.search(/[{\s]/);
      if (nameEnd <= 0) throw new Error('no value');
      const name = line.slice(0, nameEnd);
      let labels: Record<string, string> = {};
      let rest = nameEnd;
      if (line[nameEnd] === '{') [labels, rest] = parseLabels(line, nameEnd);
      const [value] = line.slice(rest).trim().split(/\s+/);  // a timestamp may follow
      samples.push({ name, labels, value: parseValue(value ?? '') });
    } catch (e) {
      throw new Error(`metrics line ${n + 1} ('${line}'): ${(e as Error).message}`);
    }
  });
  return new Metrics(samples, types, help);
}
