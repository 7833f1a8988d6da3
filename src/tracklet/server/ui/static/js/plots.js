// SVG plots for the compare view: parallel coordinates and a scatter plot.
import { fmtNum } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A scale for one dimension: numeric (linear) when every present value is a number, else categorical. */
function scaleFor(values) {
  const present = values.filter((v) => v !== undefined && v !== null && v !== "");
  const nums = present.map(Number);
  if (present.length && nums.every(Number.isFinite)) {
    let lo = Math.min(...nums);
    let hi = Math.max(...nums);
    if (lo === hi) (lo -= 1), (hi += 1);
    return { kind: "num", pos: (v) => (v === undefined || v === "" ? null : (Number(v) - lo) / (hi - lo)), ticks: [lo, (lo + hi) / 2, hi] };
  }
  const cats = [...new Set(present.map(String))].sort();
  const step = cats.length > 1 ? 1 / (cats.length - 1) : 0;
  return {
    kind: "cat",
    pos: (v) => (v === undefined || v === "" ? null : cats.length > 1 ? cats.indexOf(String(v)) * step : 0.5),
    cats,
  };
}

export function parallelCoordinates(runs, dims) {
  if (dims.length < 2) return s("svg", { class: "pc", viewBox: "0 0 600 40" }, s("text", { x: 10, y: 25 }, "Choose at least two axes."));
  const W = Math.max(600, dims.length * 130);
  const H = 320;
  const top = 36;
  const bottom = 24;
  const left = 60;
  const right = 60;
  const x = (i) => left + (i * (W - left - right)) / (dims.length - 1);
  const y = (p) => top + (1 - p) * (H - top - bottom);
  const scales = dims.map((d) => scaleFor(runs.map((r) => d.get(r))));
  const svg = s("svg", { class: "pc", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-axes": dims.length, "data-lines": runs.length });
  const lines = s("g", { class: "lines" });
  for (const r of runs) {
    let d = "";
    let pen = false;
    dims.forEach((dim, i) => {
      const p = scales[i].pos(dim.get(r));
      if (p === null || !Number.isFinite(p)) return (pen = false);
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p).toFixed(1)}`;
      pen = true;
    });
    lines.append(s("path", { d, stroke: r.color, class: "pc-line", "data-run": r.run_id }, s("title", r.run_name)));
  }
  svg.append(lines);
  dims.forEach((dim, i) => {
    const g = s("g", { class: "axis" });
    g.append(s("line", { x1: x(i), x2: x(i), y1: top, y2: H - bottom }));
    g.append(s("text", { x: x(i), y: 14, "text-anchor": "middle", class: "axis-label" }, `${dim.kind === "param" ? "p" : "m"}: ${dim.label}`.slice(0, 24)));
    const sc = scales[i];
    const ticks = sc.kind === "num" ? sc.ticks.map((t) => [sc.pos(t), fmtNum(t)]) : sc.cats.slice(0, 12).map((c) => [sc.pos(c), c.slice(0, 12)]);
    for (const [p, label] of ticks) g.append(s("text", { x: x(i) + 4, y: y(p) + 4, class: "tick" }, label));
    svg.append(g);
  });
  return svg;
}

export function scatterPlot(runs, dx, dy) {
  const W = 640;
  const H = 380;
  const m = { l: 64, r: 16, t: 12, b: 40 };
  const pts = runs
    .map((r) => ({ r, x: Number(dx.get(r)), y: Number(dy.get(r)) }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const svg = s("svg", { class: "scatter", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-points": pts.length });
  if (!pts.length) {
    svg.append(s("text", { x: 20, y: 30 }, "No run has both values."));
    return svg;
  }
  const ext = (vs) => {
    let lo = Math.min(...vs), hi = Math.max(...vs);
    if (lo === hi) (lo -= 1), (hi += 1);
    const pad = (hi - lo) * 0.06;
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = ext(pts.map((p) => p.x));
  const [y0, y1] = ext(pts.map((p) => p.y));
  const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  svg.append(s("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: "frame" }));
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + ((x1 - x0) * i) / 4;
    const yv = y0 + ((y1 - y0) * i) / 4;
    svg.append(s("text", { x: X(xv), y: H - m.b + 16, "text-anchor": "middle", class: "tick" }, fmtNum(Number(xv.toPrecision(4)))));
    svg.append(s("text", { x: m.l - 6, y: Y(yv) + 4, "text-anchor": "end", class: "tick" }, fmtNum(Number(yv.toPrecision(4)))));
  }
  svg.append(s("text", { x: (W + m.l) / 2, y: H - 6, "text-anchor": "middle", class: "axis-label" }, `${dx.kind}: ${dx.label}`));
  svg.append(s("text", { x: 14, y: H / 2, transform: `rotate(-90 14 ${H / 2})`, "text-anchor": "middle", class: "axis-label" }, `${dy.kind}: ${dy.label}`));
  for (const p of pts) {
    svg.append(s("circle", { cx: X(p.x), cy: Y(p.y), r: 5, fill: p.r.color, class: "dot" },
      s("title", `${p.r.run_name}\n${dx.label}: ${fmtNum(p.x)}\n${dy.label}: ${fmtNum(p.y)}`)));
  }
  return svg;
}
