// A canvas line chart of downsampled series: per bucket a min–max bar (spikes stay visible) and a
// line through the last values, optionally smoothed; log scale; drag to zoom, double-click to reset.
import { fmtNum, h } from "./dom.js";

const M = { left: 58, right: 14, top: 12, bottom: 30 };

function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) if (e >= lo - 1e-9 && e <= hi + 1e-9) out.push(e);
  return out.length >= 2 ? out : niceTicks(lo, hi, 4);
}

function fmtClock(ms, span) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  if (span > 2 * 86400_000) return `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Exponential moving average with bias correction (as TensorBoard's smoothing slider). */
export function smooth(values, weight) {
  if (!weight) return values;
  const out = new Array(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

export class LineChart {
  constructor({ height = 240, xAxis = "step", log = false, smoothing = 0, onZoom = null, onReset = null } = {}) {
    this.opts = { height, xAxis, log, smoothing };
    this.onZoom = onZoom;
    this.onReset = onReset;
    this.series = [];
    this.view = null; // [x0, x1] requested range, or null for everything
    this.canvas = h("canvas.chart-canvas", { role: "img", "aria-label": "Line chart (drag to zoom, double-click to reset)" });
    this.overlay = h("div.chart-selection", { hidden: true });
    this.tip = h("div.chart-tip", { hidden: true });
    this.el = h("div.chart", { style: { height: `${height}px` } }, this.canvas, this.overlay, this.tip);
    this._bind();
    this._resize = new ResizeObserver(() => this.draw());
    this._resize.observe(this.el);
  }

  destroy() {
    this._resize.disconnect();
  }

  set(options) {
    Object.assign(this.opts, options);
    this.draw();
  }

  setData(series, view = this.view) {
    this.series = series;
    this.view = view;
    this.draw();
  }

  _domain() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const log = this.opts.log;
    for (const s of this.series) {
      for (let i = 0; i < s.x.length; i++) {
        const x = s.x[i];
        if (this.view && (x < this.view[0] || x > this.view[1])) continue;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        for (const v of [s.min[i], s.max[i], s.drawn ? s.drawn[i] : s.last[i]]) {
          if (!Number.isFinite(v) || (log && v <= 0)) continue;
          const t = log ? Math.log10(v) : v;
          y0 = Math.min(y0, t);
          y1 = Math.max(y1, t);
        }
      }
    }
    if (this.view) [x0, x1] = this.view;
    if (!Number.isFinite(x0)) return null;
    if (x1 === x0) (x0 -= 1), (x1 += 1);
    if (!Number.isFinite(y0)) (y0 = 0), (y1 = 1);
    if (y1 === y0) (y0 -= Math.abs(y0) * 0.1 || 1), (y1 += Math.abs(y1) * 0.1 || 1);
    const pad = (y1 - y0) * 0.05;
    return { x0, x1, y0: y0 - pad, y1: y1 + pad };
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.el.clientWidth;
    const hgt = this.opts.height;
    if (!w) return;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(hgt * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${hgt}px`;
    const g = this.canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = "11px system-ui, sans-serif";
    for (const s of this.series) s.drawn = smooth(s.last, this.opts.smoothing);
    const d = this._domain();
    this.domain = d;
    let drawnBuckets = 0;
    if (!d) {
      g.fillStyle = "#888";
      g.fillText("No data", w / 2 - 20, hgt / 2);
      this.el.dataset.points = "0";
      return;
    }
    const pw = w - M.left - M.right;
    const ph = hgt - M.top - M.bottom;
    const log = this.opts.log;
    const X = (x) => M.left + ((x - d.x0) / (d.x1 - d.x0)) * pw;
    const Y = (v) => M.top + ph - (((log ? Math.log10(v) : v) - d.y0) / (d.y1 - d.y0)) * ph;
    this.X = X;

    // axes and grid
    g.strokeStyle = "#e3e3e3";
    g.fillStyle = "#555";
    g.lineWidth = 1;
    const yt = log ? logTicks(d.y0, d.y1) : niceTicks(d.y0, d.y1);
    for (const t of yt) {
      const y = M.top + ph - ((t - d.y0) / (d.y1 - d.y0)) * ph;
      g.beginPath();
      g.moveTo(M.left, y);
      g.lineTo(M.left + pw, y);
      g.stroke();
      g.fillText(log ? fmtNum(10 ** t) : fmtNum(t), 4, y + 4);
    }
    const time = this.opts.xAxis === "time";
    const xt = niceTicks(d.x0, d.x1, Math.max(2, Math.floor(pw / 110)));
    for (const t of xt) {
      const x = X(t);
      g.beginPath();
      g.moveTo(x, M.top);
      g.lineTo(x, M.top + ph);
      g.stroke();
      const label = time ? fmtClock(t, d.x1 - d.x0) : fmtNum(t);
      g.fillText(label, x - g.measureText(label).width / 2, hgt - 10);
    }
    g.strokeStyle = "#999";
    g.strokeRect(M.left, M.top, pw, ph);

    g.save();
    g.beginPath();
    g.rect(M.left, M.top, pw, ph);
    g.clip();
    for (const s of this.series) {
      const n = s.x.length;
      drawnBuckets += n;
      // min–max bars: every bucket keeps its extremes, so a one-point spike is always drawn
      g.strokeStyle = s.color;
      g.globalAlpha = 0.35;
      g.beginPath();
      for (let i = 0; i < n; i++) {
        if (s.max[i] === s.min[i] || (log && s.min[i] <= 0)) continue;
        const x = X(s.x[i]);
        g.moveTo(x, Y(s.min[i]));
        g.lineTo(x, Y(s.max[i]) - 0.5);
      }
      g.stroke();
      if (this.opts.smoothing) {
        g.globalAlpha = 0.25;
        this._line(g, s.x, s.last, X, Y, log);
      }
      g.globalAlpha = 1;
      g.lineWidth = 1.6;
      this._line(g, s.x, s.drawn, X, Y, log);
      g.lineWidth = 1;
      if (n <= 60) {
        g.fillStyle = s.color;
        for (let i = 0; i < n; i++) {
          if (log && s.drawn[i] <= 0) continue;
          g.beginPath();
          g.arc(X(s.x[i]), Y(s.drawn[i]), 2.5, 0, Math.PI * 2);
          g.fill();
        }
      }
    }
    g.restore();
    this.el.dataset.points = String(drawnBuckets);
  }

  _line(g, xs, ys, X, Y, log) {
    g.beginPath();
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      const v = ys[i];
      if (!Number.isFinite(v) || (log && v <= 0)) {
        pen = false;
        continue;
      }
      const x = X(xs[i]);
      const y = Y(v);
      pen ? g.lineTo(x, y) : g.moveTo(x, y);
      pen = true;
    }
    g.stroke();
  }

  _toX(px) {
    const d = this.domain;
    const pw = this.el.clientWidth - M.left - M.right;
    return d.x0 + ((px - M.left) / pw) * (d.x1 - d.x0);
  }

  _bind() {
    let start = null;
    const pos = (e) => e.clientX - this.canvas.getBoundingClientRect().left;
    this.canvas.addEventListener("mousedown", (e) => {
      if (!this.domain) return;
      start = pos(e);
      Object.assign(this.overlay.style, { left: `${start}px`, width: "0px", top: `${M.top}px`, height: `${this.opts.height - M.top - M.bottom}px` });
      this.overlay.hidden = false;
    });
    window.addEventListener("mousemove", (e) => {
      if (start === null) return;
      const x = pos(e);
      Object.assign(this.overlay.style, { left: `${Math.min(start, x)}px`, width: `${Math.abs(x - start)}px` });
    });
    window.addEventListener("mouseup", (e) => {
      if (start === null) return;
      const x = pos(e);
      this.overlay.hidden = true;
      const [a, b] = [Math.min(start, x), Math.max(start, x)];
      start = null;
      if (b - a < 5 || !this.onZoom) return;
      this.onZoom([this._toX(a), this._toX(b)]);
    });
    this.canvas.addEventListener("dblclick", () => this.onReset && this.onReset());
    this.canvas.addEventListener("mousemove", (e) => this._hover(pos(e), e));
    this.canvas.addEventListener("mouseleave", () => (this.tip.hidden = true));
  }

  _hover(px) {
    if (!this.domain || px < M.left) return (this.tip.hidden = true);
    const x = this._toX(px);
    const lines = [];
    for (const s of this.series) {
      let best = -1, dist = Infinity;
      for (let i = 0; i < s.x.length; i++) {
        const dd = Math.abs(s.x[i] - x);
        if (dd < dist) (dist = dd), (best = i);
      }
      if (best < 0) continue;
      const range = s.min[best] !== s.max[best] ? ` [${fmtNum(s.min[best])} … ${fmtNum(s.max[best])}]` : "";
      lines.push(h("div", h("span.swatch", { style: { background: s.color } }), `${s.name}: ${fmtNum(s.drawn[best])}${range}`));
    }
    const label = this.opts.xAxis === "time" ? new Date(x).toLocaleString() : `step ${Math.round(x)}`;
    this.tip.replaceChildren(h("div.muted", label), ...lines.slice(0, 12));
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(px + 12, this.el.clientWidth - 220)}px`;
    this.tip.style.top = "8px";
  }
}
