// A line chart of the last `capacity` samples on a canvas: y from 0 to a rounded maximum (or a
// fixed one, e.g. 1 for ratios), the maximum written in the corner. Drawn at the screen's pixel
// density; redrawn on every push and when its canvas changes size.

const styleOf = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// The smallest of 1, 2, 2.5, 5 x 10^k at or above v.
export function niceCeiling(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export class LineChart {
  // format: how a value is written (the corner's maximum); fixedMax: a y range that never changes.
  constructor(canvas, { capacity = 120, format = (v) => String(v), fixedMax = null } = {}) {
    this.canvas = canvas;
    this.capacity = capacity;
    this.format = format;
    this.fixedMax = fixedMax;
    this.values = [];  // null: no value that second (the line breaks there)
    this.pushes = 0;   // how many samples it has been given (tests read it: the chart moves)
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  push(value) {
    this.values.push(Number.isFinite(value) ? value : null);
    if (this.values.length > this.capacity) this.values.shift();
    this.pushes++;
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio), height = Math.round(canvas.clientHeight * ratio);
    if (width === 0 || height === 0) return;
    if (canvas.width !== width || canvas.height !== height) [canvas.width, canvas.height] = [width, height];
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, width, height);
    const present = this.values.filter((v) => v !== null);
    const max = this.fixedMax ?? niceCeiling(Math.max(0, ...present));
    const top = 14 * ratio, bottom = height - 2 * ratio;
    const y = (v) => bottom - (Math.min(v, max) / max) * (bottom - top);
    const x = (i) => (width * (i + this.capacity - this.values.length)) / (this.capacity - 1);

    g.strokeStyle = styleOf('--line');
    g.lineWidth = 1;
    g.beginPath();
    for (const f of [0.5, 1]) {
      g.moveTo(0, y(max * f));
      g.lineTo(width, y(max * f));
    }
    g.stroke();
    g.fillStyle = styleOf('--muted');
    g.font = `${11 * ratio}px system-ui, sans-serif`;
    g.fillText(this.format(max), 2 * ratio, top - 3 * ratio);

    g.strokeStyle = styleOf('--accent');
    g.lineWidth = 1.5 * ratio;
    g.beginPath();
    let drawing = false;
    this.values.forEach((v, i) => {
      if (v === null) {
        drawing = false;
        return;
      }
      if (drawing) g.lineTo(x(i), y(v));
      else g.moveTo(x(i), y(v));
      drawing = true;
    });
    g.stroke();
  }
}
