// Compare runs: overlaid metric charts, parallel coordinates, a scatter of any two values, and a
// table of params and metrics with differing values highlighted. One bulk read loads every run.
import { api } from "./api.js";
import { clear, color, fmtNum, h } from "./dom.js";
import { chartPanel } from "./metrics.js";
import { parallelCoordinates, scatterPlot } from "./plots.js";

export async function comparePage(root, ctx) {
  const ids = (ctx.params.get("runs") || "").split(",").filter(Boolean);
  if (ids.length < 1) {
    root.append(h("p.error", "No runs to compare: select runs in an experiment's table."));
    return;
  }
  const { runs: loaded } = await api.bulkGet(ids);
  if (!ctx.alive()) return;
  const runs = loaded.map((r, i) => ({
    run_id: r.info.run_id,
    run_name: r.info.run_name,
    status: r.info.status,
    experiment_id: r.info.experiment_id,
    color: color(i),
    params: Object.fromEntries((r.data.params || []).map((p) => [p.key, p.value])),
    metrics: Object.fromEntries((r.data.metrics || []).map((m) => [m.key, m.value])),
  }));
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const expId = runs[0]?.experiment_id;

  // Every param and metric as a plot dimension; params with one value across runs are left out by default.
  const dims = [
    ...paramKeys.map((k) => ({ id: `params.${k}`, label: k, kind: "param", get: (r) => r.params[k] })),
    ...metricKeys.map((k) => ({ id: `metrics.${k}`, label: k, kind: "metric", get: (r) => r.metrics[k] })),
  ];
  const differs = (d) => new Set(runs.map((r) => String(d.get(r)))).size > 1;

  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", expId ? h("a", { href: `#/experiments/${expId}` }, "runs") : "", ` / compare ${runs.length} runs`)),
    h("div.legend", runs.slice(0, 50).map((r) => h("a.legend-item", { href: `#/runs/${r.run_id}` }, h("span.swatch", { style: { background: r.color } }), r.run_name)),
      runs.length > 50 ? h("span.muted", ` … and ${runs.length - 50} more`) : null),
  );

  // ---- parallel coordinates ---------------------------------------------------------------------
  const pcDims = dims.filter((d) => d.kind === "metric" || differs(d)).slice(0, 12);
  const chosen = new Set(pcDims.map((d) => d.id));
  const pcBox = h("div.plot#parallel-coordinates");
  const pcPicker = h("details.dim-picker", h("summary", "Axes"), h("div", dims.map((d) =>
    h("label", h("input", { type: "checkbox", checked: chosen.has(d.id), on: { change: (e) => {
      e.target.checked ? chosen.add(d.id) : chosen.delete(d.id);
      drawPc();
    } } }), ` ${d.kind}: ${d.label}`))));
  const drawPc = () => clear(pcBox).append(parallelCoordinates(runs, dims.filter((d) => chosen.has(d.id))));

  // ---- scatter ----------------------------------------------------------------------------------
  const numeric = dims.filter((d) => runs.some((r) => Number.isFinite(Number(d.get(r)))));
  const pick = (id, initial) => h(`select#${id}`, { on: { change: drawScatter } }, numeric.map((d, i) =>
    h("option", { value: d.id, selected: i === initial }, `${d.kind}: ${d.label}`)));
  const sx = pick("scatter-x", 0);
  const sy = pick("scatter-y", Math.min(1, numeric.length - 1));
  const firstMetric = numeric.findIndex((d) => d.kind === "metric");
  if (firstMetric >= 0) sy.selectedIndex = firstMetric;
  const scBox = h("div.plot#scatter");
  function drawScatter() {
    const dx = numeric.find((d) => d.id === sx.value);
    const dy = numeric.find((d) => d.id === sy.value);
    clear(scBox).append(dx && dy ? scatterPlot(runs, dx, dy) : h("p.muted", "Nothing numeric to plot."));
  }

  // ---- diff table -------------------------------------------------------------------------------
  const onlyDiff = h("input#only-differences", { type: "checkbox", on: { change: () => drawTable() } });
  const tableBox = h("div.diff-wrap");
  function drawTable() {
    const rows = [];
    for (const d of dims) {
      const isDiff = differs(d);
      if (onlyDiff.checked && !isDiff) continue;
      rows.push(h(`tr${isDiff ? ".diff" : ""}`, { dataset: { key: d.id } },
        h("th", h("span.group", d.kind[0]), d.label),
        runs.map((r) => h("td", d.kind === "metric" ? fmtNum(d.get(r)) : d.get(r) ?? ""))));
    }
    clear(tableBox).append(h("table.grid.diff#diff-table",
      h("thead", h("tr", h("th", ""), runs.map((r) => h("th", h("a", { href: `#/runs/${r.run_id}` }, r.run_name))))),
      h("tbody", rows)));
  }

  root.append(
    h("h2", "Metrics"),
    metricKeys.length ? chartPanel(ctx, { runs, keys: metricKeys, height: 220 }) : h("p.muted", "No metrics."),
    h("h2", "Parallel coordinates"), pcPicker, pcBox,
    h("h2", "Scatter"), h("div.chart-controls", h("label", "x ", sx), h("label", "y ", sy)), scBox,
    h("h2", "Params and metrics"), h("label", onlyDiff, " only differences"), tableBox,
  );
  drawPc();
  drawScatter();
  drawTable();
}
