// The server's /metrics text (Prometheus exposition) as a map from sample name, labels included as
// written, to value: 'ax_requests_running' -> 2, 'ax_http_requests_total{route="/health",status="200"}' -> 3.
export function parseMetrics(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    const value = Number(line.slice(cut + 1));
    if (cut > 0 && !Number.isNaN(value)) samples.set(line.slice(0, cut), value);
  }
  return samples;
}

// Rates between two scrapes: what a counter gained per second, and one counter's gain over
// another's (null when the second did not move: nothing happened to measure).
export class Deltas {
  constructor(before, after, seconds) {
    this.before = before;
    this.after = after;
    this.seconds = seconds;
  }
  gain(name) {
    return (this.after.get(name) ?? 0) - (this.before.get(name) ?? 0);
  }
  perSecond(name) {
    return this.seconds > 0 ? this.gain(name) / this.seconds : null;
  }
  ratio(numerator, denominator) {
    const d = this.gain(denominator);
    return d > 0 ? this.gain(numerator) / d : null;
  }
}
