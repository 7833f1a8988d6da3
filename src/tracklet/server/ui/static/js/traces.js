// The traces of an experiment (`#/experiments/<id>/traces`), and the same list for one run on its
// page: MLflow 3 `traces/search` pages (server-side filter and sort, "Load more" by page token),
// selection and delete. Linked runs are named with one bulk read per page.
import { api } from "./api.js";
import { clear, fmtTime, h, toast } from "./dom.js";
import { experimentHeading, experimentTabs } from "./experiment.js";
import { allowed } from "./permissions.js";
import { durationMs, fmtMs } from "./spans.js";

const PAGE = 100;
const PREVIEW_CHARS = 300;
export const SOURCE_RUN = "mlflow.sourceRun";
const DEFAULT_ORDER = "timestamp_ms DESC";

const COLUMNS = [
  { id: "name", label: "Trace", order: "name" },
  { id: "id", label: "Trace ID", order: "request_id" },
  { id: "state", label: "State", order: "status" },
  { id: "time", label: "Request time", order: "timestamp_ms", desc: true },
  { id: "duration", label: "Duration", order: "execution_time_ms", desc: true, num: true },
  { id: "request", label: "Request" },
  { id: "response", label: "Response" },
  { id: "run", label: "Run", order: "run_id" },
  { id: "tokens", label: "Tokens", num: true, llm: true }, // only when a loaded trace reports usage
  { id: "tags", label: "Tags" },
];
const TOKEN_USAGE = "mlflow.trace.tokenUsage"; // the client sums its LLM spans' usage into this

/** A trace's token usage ({input_tokens, output_tokens, total_tokens}) or null. */
export function tokenUsage(meta) {
  try {
    const usage = JSON.parse(meta?.[TOKEN_USAGE] ?? "null");
    return usage && typeof usage === "object" ? usage : null;
  } catch {
    return null;
  }
}

/** "84 (24 in, 60 out)" */
export function fmtTokens(usage) {
  if (!usage || typeof usage !== "object") return "";
  const total = usage.total_tokens ?? (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
  const parts = [usage.input_tokens !== undefined ? `${usage.input_tokens.toLocaleString()} in` : "", usage.output_tokens !== undefined ? `${usage.output_tokens.toLocaleString()} out` : ""].filter(Boolean);
  return `${total.toLocaleString()}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/** The filter that selects a run's traces: those recorded inside it and those linked to it afterwards
 * (`mlflow.genai.evaluate` links the traces it scores to its run). */
export const runFilter = (runId) => `trace.run_id = '${runId.replaceAll("'", "\\'")}'`;

export const traceName = (t) => t.tags?.["mlflow.traceName"] || "(unnamed)";
export const shortId = (id) => (id.startsWith("tr-") ? id.slice(0, 11) : id.slice(0, 8));
export const stateClass = (state) => ({ OK: "finished", ERROR: "failed", IN_PROGRESS: "running" })[state] || "";
export const requestMs = (t) => (t.request_time ? Date.parse(t.request_time) : null);
/** A trace's state as a coloured badge, spelled out (the colour is not the only cue). */
export const stateBadge = (state) => h(`span.status.${stateClass(state) || "unknown"}.trace-state`, state || "?");
/** Tags a person set (MLflow's own `mlflow.*` tags are left out). */
export const userTags = (tags) => Object.entries(tags || {}).filter(([k]) => !k.startsWith("mlflow.")).sort(([a], [b]) => a.localeCompare(b));

function truncate(text, n = PREVIEW_CHARS) {
  if (!text) return "";
  return text.length > n ? text.slice(0, n) + "…" : text;
}

/** The experiment page's Traces tab. */
export async function tracesPage(root, ctx, expId) {
  root.append(experimentHeading(ctx, expId), experimentTabs(expId, "traces"));
  const can = await allowed("experiment", expId);
  if (!ctx.alive()) return;
  root.append(await traceList(ctx, {
    experimentId: expId,
    canDelete: can.manage,
    sync: (p) => ctx.setParams(p),
    empty: "No traces in this experiment yet. Code decorated with @mlflow.trace logs its traces to the active experiment.",
  }));
}

/**
 * A table of traces with its filter box, sortable headers, selection, delete and "Load more".
 * opts: experimentId; baseFilter (always applied, ANDed with the user's: a run's traces);
 * hide (column ids); sync(params) to keep filter and order in the URL; empty (the no-traces text);
 * canDelete (false: no Delete button, for users who do not MANAGE the experiment).
 */
export async function traceList(ctx, { experimentId, baseFilter = "", hide = [], sync, empty = "No traces.", canDelete = true }) {
  const state = {
    filter: ctx.params.get("filter") || "",
    order: ctx.params.get("order") || DEFAULT_ORDER,
  };
  let withTokens = false; // the Tokens column appears once a loaded trace reports token usage
  const columns = () => COLUMNS.filter((c) => !hide.includes(c.id) && (!c.llm || withTokens));
  let traces = [];
  let nextToken = null;
  let version = 0;
  const selected = new Set();
  const runNames = new Map();
  let selectAllBox = null;

  const filterInput = h("input#trace-filter", {
    value: state.filter,
    placeholder: "trace.status = 'ERROR' AND tags.team = 'nlp'",
    spellcheck: false,
    "aria-label": "Filter traces (search grammar)",
    "aria-describedby": "trace-filter-error",
  });
  const filterError = h("div.filter-error#trace-filter-error", { hidden: true, role: "alert" });
  const countEl = h("span.count.muted", { "aria-live": "polite" });
  const selInfo = h("span.selection", { "aria-live": "polite" });
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table.grid.traces#traces-table", { "aria-label": "Traces" }, thead, tbody);
  const emptyEl = h("p.muted.empty#traces-empty", { hidden: true });
  const more = h("button#load-more-traces", { hidden: true, on: { click: () => load(false) } }, "Load more");
  const deleteBtn = h("button.danger#delete-traces", { disabled: true, on: { click: deleteSelected } }, "Delete");

  const search = (ev) => {
    ev?.preventDefault();
    state.filter = filterInput.value.trim();
    syncUrl();
    load(true);
  };
  const syncUrl = () => sync?.({
    ...(state.filter ? { filter: state.filter } : {}),
    ...(state.order !== DEFAULT_ORDER ? { order: state.order } : {}),
  });

  const box = h("div.trace-list",
    h("form.filterbar", { on: { submit: search } },
      filterInput,
      h("button#trace-search", { type: "submit" }, "Search"),
      h("button#trace-clear-filter", { type: "button", on: { click: () => { filterInput.value = ""; search(); } } }, "Clear"),
    ),
    h("details.filter-help",
      h("summary", "Filter syntax"),
      h("p.muted", "Conditions joined by AND: ",
        ["trace.status = 'ERROR'", "trace.name LIKE 'chat%'", "trace.execution_time_ms > 100", "trace.timestamp_ms > 1700000000000",
          "tags.team = 'nlp'", "metadata.`mlflow.sourceRun` = '<run id>'", "trace.run_id = '<run id>'",
          "span.name = 'retrieve'", "span.type = 'LLM'", "span.attributes.model = 'gpt-4o'", "trace.text ILIKE '%refund%'"]
          .map((x, i) => [i ? ", " : "", h("code", x)]))),
    filterError,
    h("div.toolbar.actions", countEl, selInfo, canDelete && deleteBtn, h("span.spacer"),
      h("button#refresh-traces", { type: "button", title: "Read the first page again (new traces show up)", on: { click: () => load(true) } }, "Refresh")),
    table,
    emptyEl,
    h("div.toolbar", more),
  );

  function renderHead() {
    const [key, dir] = state.order.split(" ");
    const all = (selectAllBox = h("input.select-all-traces", { type: "checkbox", "aria-label": "Select the loaded traces", on: { change: (e) => {
      for (const t of traces) e.target.checked ? selected.add(t.trace_id) : selected.delete(t.trace_id);
      renderRows();
      updateSelection();
    } } }));
    clear(thead).append(h("tr",
      h("th.sel", all),
      columns().map((c) => {
        const sorted = c.order === key;
        const th = h(`th${c.num ? ".num" : ""}`, { dataset: { col: c.id }, scope: "col", "aria-sort": c.order ? (sorted ? (dir === "ASC" ? "ascending" : "descending") : "none") : null });
        if (!c.order) return (th.append(c.label), th);
        th.append(h("button.sort-header", { type: "button", title: `Sort by ${c.label.toLowerCase()}`, on: { click: () => sortBy(c) } },
          c.label, sorted ? h("span.sort", { "aria-hidden": "true" }, dir === "ASC" ? " ▲" : " ▼") : null));
        return th;
      }),
    ));
  }

  function sortBy(c) {
    const [key, dir] = state.order.split(" ");
    const asc = key === c.order ? dir !== "ASC" : !c.desc;
    state.order = `${c.order} ${asc ? "ASC" : "DESC"}`;
    syncUrl();
    renderHead();
    thead.querySelector(`th[data-col="${c.id}"] button`)?.focus();
    load(true);
  }

  function cell(c, t) {
    const meta = t.trace_metadata || {};
    switch (c.id) {
      case "name":
        return h("td.trace-name", h("a.trace-link", { href: `#/traces/${encodeURIComponent(t.trace_id)}` }, traceName(t)));
      case "id":
        return h("td", h("code", { title: t.trace_id }, shortId(t.trace_id)));
      case "state":
        return h("td", stateBadge(t.state));
      case "time":
        return h("td.nowrap", { title: t.request_time || "" }, fmtTime(requestMs(t)));
      case "duration":
        return h("td.num.nowrap", fmtMs(durationMs(t.execution_duration)));
      case "request":
      case "response": {
        const text = c.id === "request" ? t.request_preview : t.response_preview;
        return h("td.preview", { title: truncate(text, 2000) }, truncate(text));
      }
      case "run": {
        const runId = meta[SOURCE_RUN];
        return h("td.nowrap", runId ? h("a.run-link", { href: `#/runs/${runId}`, title: `Run ${runId}`, dataset: { runId } }, runNames.get(runId) || runId.slice(0, 8)) : "");
      }
      case "tokens": {
        const usage = tokenUsage(meta);
        return h("td.num.nowrap", { title: fmtTokens(usage) }, usage ? (usage.total_tokens ?? "").toLocaleString() : "");
      }
      case "tags":
        return h("td.tags", userTags(t.tags).map(([k, v]) => h("span.tag-chip", { title: `${k}: ${v}` }, `${k}: ${truncate(v, 40)}`)));
      default:
        return h("td");
    }
  }

  function row(t) {
    const on = selected.has(t.trace_id);
    return h(`tr${on ? ".selected" : ""}`, { dataset: { traceId: t.trace_id } },
      h("td.sel", h("input.select-trace", { type: "checkbox", checked: on, "aria-label": `Select trace ${traceName(t)} ${shortId(t.trace_id)}`, on: { change: (e) => {
        e.target.checked ? selected.add(t.trace_id) : selected.delete(t.trace_id);
        e.target.closest("tr").classList.toggle("selected", e.target.checked);
        updateSelection();
      } } })),
      columns().map((c) => {
        const td = cell(c, t);
        td.dataset.col = c.id;
        return td;
      }));
  }

  /** All rows, or only those of a page just loaded (the rows above stay as they are). */
  function renderRows(page = null) {
    if (page) tbody.append(...page.map(row));
    else clear(tbody).append(...traces.map(row));
    table.hidden = !traces.length;
  }

  function updateSelection() {
    for (const id of [...selected]) if (!traces.some((t) => t.trace_id === id)) selected.delete(id);
    selInfo.textContent = selected.size ? `${selected.size} selected` : "";
    deleteBtn.disabled = !selected.size;
    deleteBtn.hidden = !traces.length;
    if (selectAllBox) {
      selectAllBox.checked = traces.length > 0 && selected.size === traces.length;
      selectAllBox.indeterminate = selected.size > 0 && selected.size < traces.length;
    }
  }

  async function load(reset) {
    const mine = reset ? ++version : version;
    const filter = [baseFilter, state.filter].filter(Boolean).join(" AND ");
    more.disabled = true;
    try {
      const res = await api.searchTraces(experimentId, {
        filter,
        orderBy: [state.order],
        maxResults: PAGE,
        pageToken: reset ? undefined : nextToken,
      });
      if (mine !== version || !ctx.alive()) return;
      // Page tokens are offsets: traces logged or deleted meanwhile shift the pages, so a trace
      // already shown may come again.
      const shown = new Set(reset ? [] : traces.map((t) => t.trace_id));
      const page = (res.traces || []).filter((t) => !shown.has(t.trace_id));
      traces = reset ? page : [...traces, ...page];
      nextToken = res.next_page_token || null;
      filterError.hidden = true;
      filterInput.classList.remove("invalid");
      if (reset) selected.clear();
      const tokensBefore = withTokens;
      withTokens ||= page.some((t) => tokenUsage(t.trace_metadata));
      if (withTokens !== tokensBefore) renderHead();
      renderRows(reset || withTokens !== tokensBefore ? null : page);
      updateSelection();
      more.hidden = !nextToken;
      countEl.textContent = traces.length ? `${traces.length.toLocaleString()} trace${traces.length === 1 ? "" : "s"}${nextToken ? " loaded, more to load" : ""}` : "";
      emptyEl.hidden = traces.length > 0;
      emptyEl.textContent = state.filter ? "No traces match the filter." : empty;
      nameRuns(page, mine);
    } catch (e) {
      if (mine !== version || !ctx.alive()) return;
      if (e.status === 400) {
        filterError.textContent = `Invalid filter: ${e.message}`;
        filterError.hidden = false;
        filterInput.classList.add("invalid");
        traces = [];
        nextToken = null;
        renderRows();
        updateSelection();
        more.hidden = true;
        emptyEl.hidden = true;
        countEl.textContent = "";
      } else toast(e.message, "error");
    } finally {
      more.disabled = false;
    }
  }

  /** The linked runs' names, one bulk read for the page; ids stay shown if it fails. */
  async function nameRuns(page, mine) {
    if (hide.includes("run")) return;
    const ids = [...new Set(page.map((t) => t.trace_metadata?.[SOURCE_RUN]).filter((id) => id && !runNames.has(id)))];
    if (!ids.length) return;
    try {
      const { runs } = await api.bulkGet(ids);
      for (const r of runs || []) runNames.set(r.info.run_id, r.info.run_name || r.info.run_id);
      if (mine === version && ctx.alive()) {
        for (const a of tbody.querySelectorAll("a.run-link")) {
          if (runNames.has(a.dataset.runId)) a.textContent = runNames.get(a.dataset.runId);
        }
      }
    } catch {
      /* the short ids stay */
    }
  }

  async function deleteSelected() {
    const ids = [...selected];
    if (!ids.length) return;
    if (!confirm(`Delete ${ids.length} trace(s)? This cannot be undone.`)) return;
    try {
      const res = await api.deleteTraces(experimentId, ids);
      toast(`Deleted ${res.traces_deleted ?? ids.length} trace(s)`);
      await load(true);
    } catch (e) {
      toast(e.message, "error");
    }
  }

  renderHead();
  await load(true);
  return box;
}
