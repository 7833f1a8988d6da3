// Metric charts of one or many runs: shared controls (x axis, log scale, smoothing), one chart per
// metric, fetched when scrolled into view, refetched finer on zoom, polled while a run is RUNNING.
import { api } from "./api.js";
import { color, h, toast } from "./dom.js";
import { LineChart } from "./chart.js";

const POLL_MS = 3000;
const MAX_RUNS = 500;

export function chartPanel(ctx, { runs, keys, height = 240 }) {
  const opts = { xAxis: "step", log: false, smoothing: 0 };
  const charts = [];
  const names = new Map(runs.map((r, i) => [r.run_id, { name: r.run_name || r.run_id.slice(0, 8), color: color(i) }]));
  const ids = runs.slice(0, MAX_RUNS).map((r) => r.run_id);

  const xSelect = h("select.x-axis", { on: { change: (e) => { opts.xAxis = e.target.value; for (const c of charts) (c.view = null), c.load(); } } },
    h("option", { value: "step" }, "step"), h("option", { value: "time" }, "wall time"));
  const logBox = h("input.log-scale", { type: "checkbox", on: { change: (e) => { opts.log = e.target.checked; for (const c of charts) c.chart.set({ log: opts.log }); } } });
  const smoothLabel = h("span.muted", "0");
  const smoothRange = h("input.smoothing", { type: "range", min: 0, max: 0.99, step: 0.01, value: 0, on: { input: (e) => {
    opts.smoothing = Number(e.target.value);
    smoothLabel.textContent = e.target.value;
    for (const c of charts) c.chart.set({ smoothing: opts.smoothing });
  } } });
  const controls = h("div.chart-controls",
    h("label", "x axis ", xSelect),
    h("label", logBox, " log scale"),
    h("label", "smoothing ", smoothRange, " ", smoothLabel),
    h("span.muted", "drag to zoom, double-click to reset"),
    runs.length > MAX_RUNS ? h("span.error", ` charts show the first ${MAX_RUNS} runs`) : null,
  );
  const grid = h("div.chart-grid");
  const panel = h("div.chart-panel", controls, grid);

  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const c = charts.find((x) => x.card === entry.target);
      if (entry.isIntersecting && c && !c.loaded) c.load();
    }
  }, { rootMargin: "200px" });
  ctx.onLeave(() => observer.disconnect());

  for (const key of keys) {
    const c = { key, view: null, loaded: false, seq: 0 };
    c.chart = new LineChart({
      height,
      onZoom: (range) => { c.view = range; c.load(); },
      onReset: () => { c.view = null; c.load(); },
    });
    c.card = h("div.chart-card", { dataset: { metric: key } }, h("div.chart-title", key), c.chart.el);
    c.load = async () => {
      c.loaded = true;
      const mine = ++c.seq;
      const buckets = Math.max(50, Math.min(2000, c.chart.el.clientWidth || 600));
      try {
        const res = await api.history({
          run_ids: ids, metric_key: key, x: opts.xAxis, buckets,
          min: c.view ? c.view[0] : undefined, max: c.view ? c.view[1] : undefined,
        });
        if (mine !== c.seq || !ctx.alive()) return;
        const series = res.series.filter((s) => s.x.length).map((s) => ({ ...s, ...names.get(s.run_id) }));
        c.chart.set({ xAxis: opts.xAxis, log: opts.log, smoothing: opts.smoothing });
        c.chart.setData(series, c.view);
        c.card.dataset.source = res.series.map((s) => s.source).join(",");
      } catch (e) {
        if (ctx.alive()) toast(`${key}: ${e.message}`, "error");
      }
    };
    charts.push(c);
    grid.append(c.card);
    observer.observe(c.card);
  }
  ctx.onLeave(() => charts.forEach((c) => c.chart.destroy()));

  // Live update: while any run is RUNNING, refetch the charts already on screen.
  let running = runs.filter((r) => r.status === "RUNNING").map((r) => r.run_id);
  if (running.length) {
    panel.append(h("div.live.muted", "● live: updating every 3 s"));
    const tick = async () => {
      if (!ctx.alive() || !running.length) return;
      try {
        const { runs: now } = await api.bulkGet(running);
        running = now.filter((r) => r.info.status === "RUNNING").map((r) => r.info.run_id);
      } catch {
        /* keep polling: the server may be restarting */
      }
      for (const c of charts) if (c.loaded) await c.load();
      if (ctx.alive() && running.length) timer = setTimeout(tick, POLL_MS);
    };
    let timer = setTimeout(tick, POLL_MS);
    ctx.onLeave(() => clearTimeout(timer));
  }
  return panel;
}
