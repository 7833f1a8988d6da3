// The runs table of an experiment: server-side sort, filter and pages, virtual scrolling in both
// directions (only the visible rows and columns are in the DOM), column chooser, nested runs,
// selection for compare / delete / restore (of picked rows, or of every run matching the filter),
// CSV download. The first screen is one request: the first page brings its own default columns.
import { api } from "./api.js";
import { clear, debounce, fmtDuration, fmtNum, fmtTime, h, quoteKey, toast } from "./dom.js";
import { experimentTabs } from "./experiment.js";
import { allowed } from "./permissions.js";

const ROW_H = 28;
const PAGE = 100;
const MAX_DEFAULT_COLUMNS = 20;
const MAX_COMPARE = 2000; // runs/bulk-get takes at most this many ids
const MAX_EXCLUDED = 2000;

function baseColumns() {
  return [
    { id: "sel", label: "", width: 36, frozen: true },
    { id: "name", label: "Run", width: 230, frozen: true, order: "attributes.run_name" },
    { id: "status", label: "Status", width: 92, order: "attributes.status" },
    { id: "start", label: "Started", width: 165, order: "attributes.start_time" },
    { id: "duration", label: "Duration", width: 84 },
    { id: "user", label: "User", width: 90, order: "attributes.user_id" },
  ];
}

function savedColumns(expId) {
  try {
    return JSON.parse(localStorage.getItem(`tracklet.columns.${expId}`) || "null");
  } catch {
    return null;
  }
}

function parseOrder(text) {
  try {
    const o = text ? JSON.parse(text) : null;
    return o && typeof o.order === "string" ? o : null;
  } catch {
    return null;
  }
}

export async function runsPage(root, ctx, expId) {
  const params = ctx.params;
  const state = {
    filter: params.get("filter") || "",
    order: parseOrder(params.get("order")), // {id, order, asc}
    deleted: params.get("deleted") === "1",
    nested: params.get("flat") !== "1",
    columns: savedColumns(expId),
  };
  let keys = { params: [], metrics: [], tags: [] };
  let total = 0;
  let pages = new Map();
  let pending = new Set();
  let version = 0;
  let expanded = new Map(); // parent run id -> {topIndex, children}
  const selected = new Map(); // run id -> row
  // "Select all": every run matching the filter (flat, children included) but the unticked ones.
  let allMatching = null; // {count, excluded: Set of run ids}
  const isSelected = (id) => (allMatching ? !allMatching.excluded.has(id) : selected.has(id));
  const selectedCount = () => (allMatching ? allMatching.count - allMatching.excluded.size : selected.size);
  const setSelected = (row, on) => {
    if (allMatching) on ? allMatching.excluded.delete(row.run_id) : allMatching.excluded.add(row.run_id);
    else on ? selected.set(row.run_id, row) : selected.delete(row.run_id);
  };

  // The experiment's name does not hold up the table: it fills in when it arrives.
  const expName = h("span#experiment-name", `#${expId}`);
  api.getExperiment(expId).then((r) => { if (ctx.alive()) expName.textContent = r.experiment.name; }).catch(() => {});

  // ---- toolbar --------------------------------------------------------------------------------
  const filterInput = h("input#filter", {
    value: state.filter,
    placeholder: "metrics.loss < 0.5 AND params.optimizer = 'adam'",
    spellcheck: false,
    "aria-label": "Filter runs (search grammar)",
    "aria-describedby": "filter-error",
  });
  const filterError = h("div.filter-error#filter-error", { hidden: true, role: "alert" });
  const countEl = h("span.count.muted", { "aria-live": "polite" });
  const selInfo = h("span.selection", { "aria-live": "polite" });
  const chooser = h("div.chooser", { hidden: true, role: "dialog", "aria-label": "Columns" });
  const tableRequest = () => ({
    experiment_ids: [expId],
    filter: state.filter,
    order_by: state.order ? [`${state.order.order} ${state.order.asc ? "ASC" : "DESC"}`] : [],
    view_type: state.deleted ? "DELETED_ONLY" : "ACTIVE_ONLY",
    params: state.columns?.params || [],
    metrics: state.columns?.metrics || [],
    tags: state.columns?.tags || [],
    nested: state.nested,
  });
  const syncUrl = () =>
    ctx.setParams({
      ...(state.filter ? { filter: state.filter } : {}),
      ...(state.order ? { order: JSON.stringify(state.order) } : {}),
      ...(state.deleted ? { deleted: "1" } : {}),
      ...(state.nested ? {} : { flat: "1" }),
    });

  const search = (ev) => {
    ev?.preventDefault();
    state.filter = filterInput.value.trim();
    allMatching = null; // it meant the runs matching the previous filter
    updateSelection();
    syncUrl();
    reload();
  };

  const btn = (label, id, onclick, extra = {}) => h(`button#${id}`, { on: { click: onclick }, ...extra }, label);
  const compareBtn = btn("Compare", "compare", async () => {
    const n = selectedCount();
    if (n < 2) return toast("Select at least two runs to compare", "error");
    if (n > MAX_COMPARE) return toast(`Compare takes at most ${MAX_COMPARE.toLocaleString()} runs; ${n.toLocaleString()} are selected. Narrow the filter.`, "error");
    let ids = [...selected.keys()];
    if (allMatching) {
      try {
        const limit = Math.min(5000, allMatching.count);
        const res = await api.table({ ...tableRequest(), params: [], metrics: [], tags: [], nested: false, offset: 0, limit });
        ids = res.rows.map((r) => r.run_id).filter((id) => !allMatching.excluded.has(id)).slice(0, MAX_COMPARE);
      } catch (e) {
        return toast(e.message, "error");
      }
    }
    location.hash = `#/compare?runs=${ids.join(",")}`;
  });
  const lifecycleBtn = btn(state.deleted ? "Restore" : "Delete", state.deleted ? "restore-runs" : "delete-runs", async () => {
    const n = selectedCount();
    if (!n) return toast("Select runs first", "error");
    const what = allMatching ? `all ${n.toLocaleString()} run(s) matching ${state.filter ? "the filter" : "this view"}` : `${n} run(s)`;
    if (!state.deleted && !confirm(`Delete ${what}?`)) return;
    if (allMatching && allMatching.excluded.size > MAX_EXCLUDED) return toast(`Untick at most ${MAX_EXCLUDED} runs of a "select all"`, "error");
    try {
      const res = allMatching
        ? await api.setStageMatching(!state.deleted, { experiment_ids: [expId], filter: state.filter, exclude_run_ids: [...allMatching.excluded] })
        : await (state.deleted ? api.restoreRuns([...selected.keys()]) : api.deleteRuns([...selected.keys()]));
      toast(`${state.deleted ? "Restored" : "Deleted"} ${res.count ?? n} run(s)`);
      selected.clear();
      allMatching = null;
      updateSelection();
      reload();
    } catch (e) {
      toast(e.message, "error");
    }
  }, { className: state.deleted ? "" : "danger", hidden: true });
  // Deleting and restoring runs takes MANAGE: the button shows once the server says the user has it.
  allowed("experiment", expId).then((can) => { lifecycleBtn.hidden = !can.manage; });

  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", expName),
      countEl,
    ),
    experimentTabs(expId, "runs"),
    h("form.filterbar", { on: { submit: search } },
      filterInput,
      h("button#search", { type: "submit" }, "Search"),
      btn("Clear", "clear-filter", (ev) => { ev.preventDefault(); filterInput.value = ""; search(); }, { type: "button" }),
    ),
    filterError,
    h("div.toolbar.actions",
      selInfo,
      compareBtn,
      lifecycleBtn,
      btn("Select all", "select-all", selectAll, { title: "Select every run matching the filter" }),
      btn("Clear selection", "clear-selection", () => { selected.clear(); allMatching = null; updateSelection(); draw(true); }),
      h("span.spacer"),
      h("label", h("input#nested", { type: "checkbox", checked: state.nested, on: { change: (e) => { state.nested = e.target.checked; syncUrl(); reload(); } } }), " nested"),
      h("label", h("input#show-deleted", { type: "checkbox", checked: state.deleted, on: { change: (e) => { state.deleted = e.target.checked; runsPageReload(); } } }), " deleted runs"),
      btn("Columns", "columns", async () => {
        chooser.hidden = !chooser.hidden;
        if (chooser.hidden) return;
        await loadKeys();
        if (ctx.alive() && !chooser.hidden) renderChooser();
      }, { "aria-haspopup": "dialog" }),
      btn("Download CSV", "csv", async () => {
        try {
          await api.downloadCsv(tableRequest(), `runs-${expId}.csv`);
        } catch (e) {
          toast(e.message, "error");
        }
      }),
    ),
    chooser,
  );

  function runsPageReload() {
    const qs = new URLSearchParams();
    if (state.filter) qs.set("filter", state.filter);
    if (state.deleted) qs.set("deleted", "1");
    location.hash = `#/experiments/${expId}${qs.toString() ? "?" + qs : ""}`;
  }

  // ---- grid -----------------------------------------------------------------------------------
  const scroller = h("div.table-scroll#runs-table", { tabIndex: 0, role: "table", "aria-label": "Runs" });
  const thead = h("div.thead", { role: "row", "aria-rowindex": "1" });
  const tbody = h("div.tbody");
  scroller.append(thead, tbody);
  root.append(scroller);

  let columns = [];
  let offsets = [];
  let totalWidth = 0;
  function layoutColumns() {
    const c = state.columns || { params: [], metrics: [], tags: [] };
    columns = [
      ...baseColumns(),
      ...c.params.map((k) => ({ id: "p:" + k, key: k, group: "param", label: k, width: 110, order: `params.${quoteKey(k)}` })),
      ...c.metrics.map((k) => ({ id: "m:" + k, key: k, group: "metric", label: k, width: 110, order: `metrics.${quoteKey(k)}` })),
      ...c.tags.map((k) => ({ id: "t:" + k, key: k, group: "tag", label: k, width: 130, order: `tags.${quoteKey(k)}` })),
    ];
    offsets = [];
    totalWidth = 0;
    for (const col of columns) {
      offsets.push(totalWidth);
      totalWidth += col.width;
    }
  }

  function displayCount() {
    let n = total;
    for (const e of expanded.values()) n += e.children.length;
    return n;
  }

  function locate(d) {
    let extra = 0;
    const list = [...expanded.values()].sort((a, b) => a.topIndex - b.topIndex);
    for (const e of list) {
      const parentDisplay = e.topIndex + extra;
      if (d <= parentDisplay) break;
      if (d <= parentDisplay + e.children.length) return { row: e.children[d - parentDisplay - 1], depth: 1 };
      extra += e.children.length;
    }
    const top = d - extra;
    const page = pages.get(Math.floor(top / PAGE));
    if (!page) {
      fetchPage(Math.floor(top / PAGE));
      return { row: null, top };
    }
    return { row: page[top % PAGE], depth: 0, top };
  }

  async function fetchPage(p) {
    if (pending.has(p) || pages.has(p)) return;
    // Without a column choice, page 0 picks the default columns; other pages wait for them.
    const defaults = state.columns ? 0 : MAX_DEFAULT_COLUMNS;
    if (defaults && p !== 0) return;
    pending.add(p);
    const mine = version;
    try {
      const res = await api.table({ ...tableRequest(), offset: p * PAGE, limit: PAGE, default_columns: defaults });
      if (mine !== version || !ctx.alive()) return;
      if (res.columns && !state.columns) {
        state.columns = res.columns;
        layoutColumns();
      }
      total = res.total;
      pages.set(p, res.rows);
      filterError.hidden = true;
      filterInput.classList.remove("invalid");
      const runs = (n) => `${n.toLocaleString()} ${state.deleted ? "deleted " : ""}run${n === 1 ? "" : "s"}`;
      countEl.textContent = res.matched !== undefined
        ? `${runs(res.matched)} matching, ${total.toLocaleString()} top-level row${total === 1 ? "" : "s"}`
        : `${runs(total)}${state.nested && !state.filter ? " (top level)" : ""}`;
      draw(true);
    } catch (e) {
      if (mine !== version || !ctx.alive()) return;
      if (e.status === 400) {
        filterError.textContent = `Invalid filter: ${e.message}`;
        filterError.hidden = false;
        filterInput.classList.add("invalid");
        total = 0;
        countEl.textContent = "";
        draw(true);
      } else toast(e.message, "error");
    } finally {
      pending.delete(p);
    }
  }

  async function reload() {
    version += 1;
    pages = new Map();
    pending = new Set();
    expanded = new Map();
    await fetchPage(0);
  }

  const sortBy = (col) => {
    if (!col.order) return;
    const asc = state.order && state.order.id === col.id ? !state.order.asc : col.group !== "metric" && col.id !== "start";
    state.order = { id: col.id, order: col.order, asc };
    syncUrl();
    reload();
  };

  let lastRange = "";
  function draw(force = false) {
    if (!ctx.alive()) return;
    const frozen = columns.filter((c) => c.frozen);
    const frozenWidth = frozen.reduce((a, c) => a + c.width, 0);
    const left = scroller.scrollLeft;
    const right = left + scroller.clientWidth;
    const visibleCols = [];
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i];
      if (c.frozen) continue;
      if (offsets[i] + c.width >= left + frozenWidth && offsets[i] <= right) visibleCols.push(i);
    }
    const headH = thead.offsetHeight || ROW_H;
    const count = displayCount();
    const first = Math.max(0, Math.floor((scroller.scrollTop - headH) / ROW_H) - 4);
    const last = Math.min(count - 1, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_H) + 4);
    const range = `${first}:${last}:${visibleCols[0]}:${visibleCols.at(-1)}:${count}`;
    if (!force && range === lastRange) return;
    lastRange = range;
    // Rows and headers are rebuilt: keep the keyboard focus on the same header or row control.
    const active = document.activeElement;
    const refocus = active && scroller.contains(active) && active !== scroller
      ? { col: active.closest(".th")?.dataset.col, run: active.closest(".tr")?.dataset.runId, cls: active.className.split(" ")[0] }
      : null;
    scroller.setAttribute("aria-rowcount", String(count + 1));
    tbody.style.height = `${count * ROW_H}px`;
    tbody.style.width = thead.style.width = `${totalWidth}px`;
    const spacer = (i) => h("div.spacer-cell", { style: { width: `${offsets[i] - frozenWidth}px` } });

    clear(thead).append(
      ...frozen.map((c, i) => headerCell(c, { position: "sticky", left: `${offsets[i]}px` })),
      visibleCols.length ? spacer(visibleCols[0]) : "",
      ...visibleCols.map((i) => headerCell(columns[i])),
    );
    const rows = [];
    for (let d = first; d <= last; d++) {
      const { row, depth } = locate(d);
      const el = h("div.tr", { style: { top: `${d * ROW_H}px` }, role: "row", "aria-rowindex": String(d + 2) });
      if (!row) {
        el.append(h("div.td.loading", { style: { width: `${frozenWidth}px` }, role: "cell" }, "…"));
      } else {
        el.dataset.runId = row.run_id;
        if (isSelected(row.run_id)) el.classList.add("selected");
        if (row.matches === false) {
          el.classList.add("context");
          el.title = "Does not match the filter: shown as the parent of matching runs";
        }
        el.append(
          ...frozen.map((c, i) => cell(c, row, depth, { position: "sticky", left: `${offsets[i]}px` })),
          visibleCols.length ? spacer(visibleCols[0]) : "",
          ...visibleCols.map((i) => cell(columns[i], row, depth)),
        );
      }
      rows.push(el);
    }
    clear(tbody).append(...rows);
    if (count === 0 && filterError.hidden) tbody.append(h("div.empty.muted", "No runs."));
    if (refocus) {
      const where = refocus.col ? thead.querySelector(`.th[data-col="${CSS.escape(refocus.col)}"]`)
        : refocus.run ? tbody.querySelector(`.tr[data-run-id="${CSS.escape(refocus.run)}"]`) : null;
      const target = where && (refocus.cls && !where.classList.contains(refocus.cls) ? where.querySelector(`.${CSS.escape(refocus.cls)}`) : where);
      (target || scroller).focus({ preventScroll: true });
    }
  }

  function headerCell(c, style = {}) {
    const sorted = state.order && state.order.id === c.id;
    const el = h(`div.th${c.frozen ? ".frozen" : ""}${c.group ? "." + c.group : ""}`, {
      style: { width: `${c.width}px`, ...style },
      title: c.group ? `${c.group}: ${c.label}` : c.label,
      dataset: { col: c.id },
      role: "columnheader",
      "aria-sort": c.order ? (sorted ? (state.order.asc ? "ascending" : "descending") : "none") : null,
    });
    if (c.id === "sel") {
      el.append(h("input.select-loaded", { type: "checkbox", title: "Select loaded rows", "aria-label": "Select the loaded runs", on: { change: (e) => {
        for (const page of pages.values()) for (const r of page) setSelected(r, e.target.checked);
        updateSelection();
        draw(true);
      } } }));
      return el;
    }
    if (c.group) el.append(h("span.group", { "aria-hidden": "true" }, c.group[0]));
    el.append(c.label);
    if (sorted) el.append(h("span.sort", { "aria-hidden": "true" }, state.order.asc ? " ▲" : " ▼"));
    if (c.order) {
      el.classList.add("sortable");
      el.tabIndex = 0; // Enter or Space sorts, like a click
      el.setAttribute("aria-label", `${c.group ? c.group + " " : ""}${c.label}: sort`);
      el.addEventListener("click", () => sortBy(c));
      el.addEventListener("keydown", (e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        sortBy(c);
      });
    }
    return el;
  }

  function cell(c, row, depth, style = {}) {
    const el = h(`div.td${c.frozen ? ".frozen" : ""}`, { style: { width: `${c.width}px`, ...style }, role: "cell" });
    switch (c.id) {
      case "sel":
        el.append(h("input.select", { type: "checkbox", checked: isSelected(row.run_id), "aria-label": `Select run ${row.run_name || row.run_id}`, on: { change: (e) => {
          setSelected(row, e.target.checked);
          updateSelection();
          e.target.closest(".tr").classList.toggle("selected", e.target.checked);
        } } }));
        break;
      case "name": {
        if (depth) el.append(h("span.indent", "└ "));
        if (row.child_count) {
          const open = expanded.has(row.run_id);
          el.append(h("button.expand", {
            title: `${row.child_count} child run(s)`,
            "aria-label": `${open ? "Hide" : "Show"} ${row.child_count} child run(s) of ${row.run_name || row.run_id}`,
            "aria-expanded": String(open),
            on: { click: () => toggle(row) },
          }, open ? "▾" : "▸"));
        }
        el.append(h("a.run-link", { href: `#/runs/${row.run_id}` }, row.run_name || row.run_id));
        if (row.child_count) el.append(h("span.muted", ` (${row.child_count})`));
        break;
      }
      case "status":
        el.append(h(`span.status.${row.status.toLowerCase()}`, row.status));
        break;
      case "start":
        el.append(fmtTime(row.start_time));
        break;
      case "duration":
        el.append(fmtDuration(row.start_time, row.end_time || (row.status === "RUNNING" ? null : row.start_time)));
        break;
      case "user":
        el.append(row.user_id || "");
        break;
      default: {
        const v = c.group === "param" ? row.params[c.key] : c.group === "metric" ? row.metrics[c.key] : row.tags[c.key];
        const text = c.group === "metric" ? fmtNum(v) : v ?? "";
        el.append(text);
        el.title = String(v ?? "");
        if (c.group === "metric") el.classList.add("num");
      }
    }
    return el;
  }

  async function toggle(row) {
    if (expanded.has(row.run_id)) {
      expanded.delete(row.run_id);
      return draw(true);
    }
    let topIndex = -1;
    for (const [p, page] of pages) {
      const i = page.findIndex((r) => r.run_id === row.run_id);
      if (i >= 0) topIndex = p * PAGE + i;
    }
    if (topIndex < 0) return;
    try {
      const res = await api.table({ ...tableRequest(), nested: false, parent_id: row.run_id, offset: 0, limit: 5000 });
      expanded.set(row.run_id, { topIndex, children: res.rows });
      draw(true);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function selectAll() {
    try {
      // Only the count: the runs are named by the filter when an action applies to them.
      const res = await api.table({ ...tableRequest(), params: [], metrics: [], tags: [], nested: false, offset: 0, limit: 1 });
      selected.clear();
      allMatching = { count: res.total, excluded: new Set() };
      updateSelection();
      draw(true);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  function updateSelection() {
    const n = selectedCount();
    selInfo.textContent = allMatching
      ? `All ${n.toLocaleString()} run(s) matching ${state.filter ? "the filter" : "this view"} selected`
      : n ? `${n} selected` : "";
  }

  let keysLoading = null;
  function loadKeys() {
    keysLoading ||= api.get("/api/tracklet/runs/keys", { experiment_ids: expId }).then((r) => (keys = r.keys)).catch((e) => {
      keysLoading = null;
      toast(e.message, "error");
    });
    return keysLoading;
  }

  // ---- column chooser -------------------------------------------------------------------------
  function renderChooser() {
    const q = h("input#column-search", { placeholder: "Find a column…", "aria-label": "Find a column" });
    const groups = h("div.groups");
    const cols = (state.columns ||= { params: [], metrics: [], tags: [] });
    const apply = () => {
      localStorage.setItem(`tracklet.columns.${expId}`, JSON.stringify(cols));
      layoutColumns();
      reload();
    };
    const renderGroups = () => {
      const needle = q.value.toLowerCase();
      clear(groups);
      for (const group of ["params", "metrics", "tags"]) {
        const chosen = new Set(cols[group]);
        const items = keys[group].filter((k) => k.toLowerCase().includes(needle));
        groups.append(
          h("div.group",
            h("div.group-head", h("b", `${group} (${chosen.size}/${keys[group].length})`),
              h("button", { "aria-label": `Show all ${group} columns`, on: { click: () => { cols[group] = [...new Set([...cols[group], ...items])]; apply(); renderGroups(); } } }, "all"),
              h("button", { "aria-label": `Hide all ${group} columns`, on: { click: () => { cols[group] = cols[group].filter((k) => !items.includes(k)); apply(); renderGroups(); } } }, "none")),
            h("div.items", items.slice(0, 2000).map((k) =>
              h("label", h("input", { type: "checkbox", checked: chosen.has(k), dataset: { key: `${group}.${k}` }, on: { change: (e) => {
                cols[group] = e.target.checked ? [...cols[group], k] : cols[group].filter((x) => x !== k);
                apply();
              } } }), " ", k))),
          ),
        );
      }
    };
    q.addEventListener("input", debounce(renderGroups, 150));
    clear(chooser).append(h("div.chooser-head", q, h("button", { on: { click: () => { chooser.hidden = true; document.getElementById("columns")?.focus(); } } }, "Close")), groups);
    renderGroups();
  }

  // ---- start ----------------------------------------------------------------------------------
  let frame = 0;
  const schedule = () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => draw());
  };
  scroller.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);
  ctx.onLeave(() => window.removeEventListener("resize", schedule));

  // One request for the first screen: without a remembered column choice, the first page comes with
  // default columns taken from its own runs. The experiment's full key list (a DISTINCT over every
  // run's params, metrics and tags) is read only when the column chooser opens.
  layoutColumns();
  await reload();
}
