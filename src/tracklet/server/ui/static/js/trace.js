// A trace (`#/traces/<trace_id>?span=<span_id>`): its info, tags (add/remove) and metadata, the span
// tree with a waterfall bar per span, and the selected span's inputs, outputs, attributes and events.
// The spans are the client's `traces.json`, read through the artifact proxy.
import { api } from "./api.js";
import { clear, debounce, fmtTime, h, toast } from "./dom.js";
import { allowed } from "./permissions.js";
import { durationMs, fmtMs, parseSpans, pretty } from "./spans.js";
import { SOURCE_RUN, fmtTokens, requestMs, stateBadge, tokenUsage, traceName, userTags } from "./traces.js";

const ARTIFACT_LOCATION = "mlflow.artifactLocation";
const SPANS_LOCATION = "mlflow.trace.spansLocation";
const SPANS_IN_DATABASE = "TRACKING_STORE"; // received over OTLP; others are the client's traces.json
const MAX_SHOWN_CHARS = 200_000; // of one pretty-printed value; the rest is cut with a note

export async function tracePage(root, ctx, traceId) {
  let info;
  try {
    info = (await api.getTrace(traceId)).trace.trace_info;
  } catch (e) {
    root.append(h("p.error", e.status === 404 ? `No trace ${traceId}: ${e.message}` : e.message));
    return;
  }
  if (!ctx.alive()) return;
  const expId = info.trace_location?.mlflow_experiment?.experiment_id;
  const meta = info.trace_metadata || {};
  const tags = { ...(info.tags || {}) };
  const artifactLocation = tags[ARTIFACT_LOCATION];

  const [experiment, runs, spansText, can] = await Promise.all([
    api.getExperiment(expId).then((r) => r.experiment).catch(() => ({ name: `#${expId}` })),
    // The run it was recorded in, then the runs it was linked to (an evaluation's).
    api.traceRuns(traceId).then((r) => r.runs).catch(() => []),
    tags[SPANS_LOCATION] === SPANS_IN_DATABASE ? api.storedTraceSpans(traceId).catch((e) => e)
      : !artifactLocation ? new Error("the trace names no artifact location (tag mlflow.artifactLocation).")
        : !artifactLocation.startsWith("mlflow-artifacts:") ? new Error(`they are stored at ${artifactLocation}, which this server does not proxy.`)
          : api.traceSpans(artifactLocation).catch((e) => e),
    allowed("experiment", expId), // its tags take EDIT of the experiment, deleting it MANAGE
  ]);
  if (!ctx.alive()) return;

  const row = (k, v) => (v ? h("tr", h("th", { scope: "row" }, k), h("td", v)) : null);
  const runIds = [...new Set([meta[SOURCE_RUN], ...runs.map((r) => r.info.run_id)].filter(Boolean))];
  const names = new Map(runs.map((r) => [r.info.run_id, r.info.run_name]));
  const runLinks = runIds.length > 0 && h("span#trace-runs", ...runIds.flatMap((id, i) => [
    i > 0 ? ", " : null, h("a.trace-run", { href: `#/runs/${id}` }, names.get(id) || id)]));
  const deleteBtn = h("button.danger#delete-trace", { on: { click: async () => {
    if (!confirm(`Delete trace ${traceId}? This cannot be undone.`)) return;
    try {
      await api.deleteTraces(expId, [traceId]);
      toast("Deleted the trace");
      location.hash = `#/experiments/${expId}/traces`;
    } catch (e) {
      toast(e.message, "error");
    }
  } } }, "Delete trace");

  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", h("a", { href: `#/experiments/${expId}` }, experiment.name), " / ",
        h("a", { href: `#/experiments/${expId}/traces` }, "Traces"), " / ", h("span#trace-name", traceName(info))),
      stateBadge(info.state),
      h("span.spacer"),
      can.manage && deleteBtn,
    ),
    h("div.overview",
      h("table.grid.kv#trace-overview",
        h("tbody",
          row("Trace ID", h("code", info.trace_id)),
          row("State", info.state),
          row("Request time", fmtTime(requestMs(info))),
          row("Duration", fmtMs(durationMs(info.execution_duration))),
          row(runIds.length > 1 ? "Runs" : "Run", runLinks),
          row("Tokens", fmtTokens(tokenUsage(meta))),
          row("Source", meta["mlflow.source.name"]),
          row("User", meta["mlflow.user"]),
          row("Client request ID", info.client_request_id && h("code", info.client_request_id)),
        ),
      ),
      h("div.trace-tags", h("h2", "Tags"), tagsSection()),
    ),
    metadataSection(),
    assessmentsSection(),
    h("h2", "Spans"),
  );
  const spansBox = h("div#spans");
  root.append(spansBox);

  if (spansText instanceof Error) {
    const text = spansText.status !== 404 ? `The spans of this trace could not be read: ${spansText.message}`
      : info.state === "IN_PROGRESS" ? "This trace is still in progress: the client uploads its spans when it ends."
        : "The spans of this trace were not found (no traces.json in its artifacts): the client may not have uploaded them, or they were removed.";
    spansBox.append(h(`p.spans-error.${info.state === "IN_PROGRESS" && spansText.status === 404 ? "muted" : "error"}`, text));
    return;
  }
  let tree;
  try {
    tree = parseSpans(spansText);
  } catch (e) {
    spansBox.append(h("p.error.spans-error", `The spans of this trace could not be read: ${e.message}`));
    return;
  }
  if (!tree.spans.length) {
    spansBox.append(h("p.muted.spans-error", "This trace has no spans."));
    return;
  }
  spansBox.append(spanView(ctx, tree));

  function tagsSection() {
    const wrap = h("div#trace-tags");
    const render = () => {
      const rows = userTags(tags).map(([k, v]) =>
        h("tr", { dataset: { tag: k } }, h("td", k), h("td", v),
          can.edit && h("td.actions", h("button.danger.delete-tag", { "aria-label": `Delete tag ${k}`, on: { click: async () => {
            try {
              await api.deleteTraceTag(traceId, k);
              delete tags[k];
              render();
            } catch (e) {
              toast(e.message, "error");
            }
          } } }, "Delete"))));
      const keyIn = h("input#new-trace-tag-key", { placeholder: "key", "aria-label": "New tag key" });
      const valIn = h("input#new-trace-tag-value", { placeholder: "value", "aria-label": "New tag value" });
      const add = async (ev) => {
        ev.preventDefault();
        const key = keyIn.value.trim();
        if (!key) return;
        try {
          await api.setTraceTag(traceId, key, valIn.value);
          tags[key] = valIn.value;
          render();
          document.getElementById("new-trace-tag-key")?.focus();
        } catch (e) {
          toast(e.message, "error");
        }
      };
      clear(wrap).append(
        rows.length ? h("table.grid.kv#trace-tags-table", h("tbody", rows)) : h("p.muted", "No tags."),
        can.edit && h("form.inline#add-trace-tag", { on: { submit: add } }, keyIn, valIn, h("button", { type: "submit" }, "Add tag")),
      );
    };
    render();
    return wrap;
  }

  // Feedback and expectations (`mlflow.log_feedback`, `log_expectation`); an overridden one is struck
  // through and says which assessment replaced it. Nothing at all for a trace without any.
  function assessmentsSection() {
    const items = info.assessments || [];
    if (!items.length) return null;
    const replacedBy = new Map(items.filter((a) => a.overrides).map((a) => [a.overrides, a]));
    const valueOf = (a) => {
      const v = a.feedback ?? a.expectation ?? a.issue ?? {};
      if (v.error) return `error: ${v.error.error_message || v.error.error_code}`;
      const raw = v.value ?? v.serialized_value?.value;
      return typeof raw === "string" ? raw : JSON.stringify(raw);
    };
    const kind = (a) => (a.feedback ? "feedback" : a.expectation ? "expectation" : "issue");
    const rows = items.map((a) => {
      const overridden = a.valid === false;
      const source = a.source ? [a.source.source_type, a.source.source_id].filter(Boolean).join(" · ") : "";
      return h(`tr${overridden ? ".invalid" : ""}`, { dataset: { assessment: a.assessment_name } },
        h("td", a.assessment_name),
        h("td.wrap.assessment-value", valueOf(a)),
        h("td", kind(a), overridden ? h("span.muted", ` (overridden${replacedBy.has(a.assessment_id) ? ` by ${valueOf(replacedBy.get(a.assessment_id))}` : ""})`) : null),
        h("td", source),
        h("td.wrap", a.rationale || ""),
        h("td", fmtTime(Date.parse(a.create_time))));
    });
    return h("section#trace-assessments",
      h("h2", `Assessments (${items.length})`),
      h("table.grid.assessments", { "aria-label": "Assessments" },
        h("thead", h("tr", ["Name", "Value", "Kind", "Source", "Rationale", "Time"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", rows)));
  }

  function metadataSection() {
    // MLflow's own tags (trace name, artifact location…) are read-only facts: shown with the metadata.
    const own = Object.entries(tags).filter(([k]) => k.startsWith("mlflow."));
    const items = [...Object.entries(meta), ...own].sort(([a], [b]) => a.localeCompare(b));
    return h("details.trace-metadata#trace-metadata",
      h("summary", `Metadata (${items.length})`),
      items.length
        ? h("table.grid.kv", h("tbody", items.map(([k, v]) => h("tr", h("th", { scope: "row" }, k), h("td.wrap", v)))))
        : h("p.muted", "None."));
  }
}

const typeBadge = (type) => h(`span.span-type.type-${type.toLowerCase().replace(/[^a-z0-9_]/g, "")}`, type);

/** The span tree (an ARIA tree: arrows move, left/right fold) beside the selected span's details. */
function spanView(ctx, tree) {
  const total = Math.max(tree.end - tree.start, 1);
  const byId = new Map(tree.spans.map((s) => [s.id, s]));
  const collapsed = new Set();
  let current = byId.get(ctx.params.get("span")) || tree.roots[0];
  const list = h("div.span-tree#span-tree", { role: "tree", "aria-label": "Spans" });
  const detail = h("div.span-detail#span-detail"); // not aria-live: the selected tree item already says which span it is
  const errors = tree.spans.filter((s) => s.status === "ERROR").length;

  // "Find": the spans whose name or type holds the text, shown with their ancestors (dimmed).
  let matches = null; // null when not searching, else the Set of matching spans
  let shown = null; // the matching spans and their ancestors
  const find = h("input#span-find", { type: "search", placeholder: "Find spans by name or type", "aria-label": "Find spans by name or type", spellcheck: false });
  const findCount = h("span.muted.span-find-count", { "aria-live": "polite" });
  const runFind = () => {
    const q = find.value.trim().toLowerCase();
    matches = q ? new Set(tree.spans.filter((s) => s.name.toLowerCase().includes(q) || s.type.toLowerCase().includes(q))) : null;
    shown = matches && new Set();
    for (const m of matches || []) for (let p = m; p && !shown.has(p); p = p.parent) shown.add(p);
    findCount.textContent = matches ? `${matches.size} matching` : "";
    renderTree();
  };
  find.addEventListener("input", debounce(runFind, 120));
  find.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    runFind();
    const first = visible().find((s) => matches?.has(s));
    if (first) select(first, true);
  });

  // The spans in tree order, without the children of folded ones (a loop: trees can be deep); while
  // finding, the matches and their ancestors, folded or not.
  const visible = () => {
    const out = [];
    const stack = [...tree.roots].reverse();
    while (stack.length) {
      const s = stack.pop();
      if (shown && !shown.has(s)) continue;
      out.push(s);
      if (shown || !collapsed.has(s.id)) for (let i = s.children.length - 1; i >= 0; i--) stack.push(s.children[i]);
    }
    return out;
  };

  function renderTree() {
    const spans = visible();
    const rows = spans.map((s) => {
      const left = ((s.start ?? tree.start) - tree.start) / total;
      const width = Math.max(((s.end ?? s.start) - (s.start ?? tree.start)) / total, 0.002);
      const selected = s === current;
      const caret = s.children.length
        ? h("span.caret", { "aria-hidden": "true", on: { click: (e) => { e.stopPropagation(); fold(s, !collapsed.has(s.id)); } } }, collapsed.has(s.id) ? "▸" : "▾")
        : h("span.caret", { "aria-hidden": "true" }, "");
      const ms = ((s.end ?? s.start) - s.start) / 1e6;
      const context = matches && !matches.has(s);
      return h(`div.span-row${selected ? ".selected" : ""}${s.status === "ERROR" ? ".error" : ""}${context ? ".context" : ""}`, {
        role: "treeitem",
        tabIndex: selected ? 0 : -1,
        "aria-level": String(s.depth + 1),
        "aria-selected": String(selected),
        "aria-expanded": s.children.length ? String(!collapsed.has(s.id)) : null,
        "aria-label": `${s.name}, ${s.type}, ${fmtMs(ms)}${s.status === "ERROR" ? ", error" : ""}`,
        dataset: { spanId: s.id, depth: String(s.depth) },
        on: { click: () => select(s, true) },
      },
      h("span.span-label", { style: { paddingLeft: `${s.depth * 16 + 4}px` } },
        caret,
        s.type !== "UNKNOWN" ? typeBadge(s.type) : null, // the default type says nothing in a list
        h("span.span-name", { title: s.name }, s.name),
        s.status === "ERROR" ? h("span.span-error-mark", { title: s.statusMessage || "error" }, "error") : null),
      h("span.span-track", { "aria-hidden": "true" },
        h("span.span-bar", { style: { left: `${(left * 100).toFixed(3)}%`, width: `${(Math.min(width, 1 - left) * 100).toFixed(3)}%` } })),
      h("span.span-dur", fmtMs(ms)));
    });
    clear(list).append(...rows);
    // The tree stays reachable by Tab when the selected span is filtered out of it.
    if (rows.length && !spans.includes(current)) rows[0].tabIndex = 0;
    if (!rows.length) list.append(h("p.muted.empty", "No span matches."));
  }

  function fold(s, close) {
    if (!s.children.length) return;
    close ? collapsed.add(s.id) : collapsed.delete(s.id);
    // Folding an ancestor of the selected span selects the folded one: the selection stays in sight.
    for (let p = current.parent; close && p; p = p.parent) {
      if (p === s) {
        current = s;
        ctx.setParams({ span: s.id });
        renderDetail();
        break;
      }
    }
    renderTree();
    focusCurrent();
  }

  function focusCurrent() {
    list.querySelector(`.span-row[data-span-id="${CSS.escape(current.id)}"]`)?.focus();
  }

  // Only the old and the new row change: a trace of thousands of spans stays quick to walk.
  function select(s, focus) {
    const rowOf = (span) => list.querySelector(`.span-row[data-span-id="${CSS.escape(span.id)}"]`);
    const before = rowOf(current);
    current = s;
    ctx.setParams({ span: s.id });
    if (before) {
      before.classList.remove("selected");
      before.tabIndex = -1;
      before.setAttribute("aria-selected", "false");
    }
    const after = rowOf(s);
    if (after) {
      after.classList.add("selected");
      after.tabIndex = 0;
      after.setAttribute("aria-selected", "true");
    } else renderTree(); // inside a folded span
    renderDetail();
    if (focus) focusCurrent();
  }

  list.addEventListener("keydown", (e) => {
    const rows = visible();
    const i = rows.indexOf(current);
    let next = null;
    if (e.key === "ArrowDown") next = rows[i + 1];
    else if (e.key === "ArrowUp") next = rows[i - 1];
    else if (e.key === "Home") next = rows[0];
    else if (e.key === "End") next = rows.at(-1);
    else if (e.key === "ArrowRight") {
      if (current.children.length && collapsed.has(current.id)) return (e.preventDefault(), fold(current, false));
      next = current.children.length ? current.children[0] : null;
    } else if (e.key === "ArrowLeft") {
      if (current.children.length && !collapsed.has(current.id)) return (e.preventDefault(), fold(current, true));
      next = current.parent;
    } else return;
    e.preventDefault();
    if (next) select(next, true);
  });

  function section(title, id, value, present) {
    if (!present) return null;
    let text = pretty(value);
    const cut = text.length > MAX_SHOWN_CHARS;
    if (cut) text = text.slice(0, MAX_SHOWN_CHARS);
    return [h("h3", title), h(`pre.span-json#${id}`, text), cut ? h("p.muted", `Cut at ${MAX_SHOWN_CHARS.toLocaleString()} characters.`) : null];
  }

  function renderDetail() {
    const s = current;
    const at = (ns) => (ns === null ? "" : `+${fmtMs((ns - tree.start) / 1e6)}`);
    const row = (k, v) => (v ? h("tr", h("th", { scope: "row" }, k), h("td", v)) : null);
    const exceptions = s.events.filter((e) => e.name === "exception");
    const attrs = Object.entries(s.attributes).sort(([a], [b]) => a.localeCompare(b));
    // Through h(): it flattens the optional sections (arrays, nulls); Element.append would print them.
    clear(detail).append(h("div.span-detail-body",
      h("div.span-head",
        h("h2#span-title", s.name),
        typeBadge(s.type),
        h(`span.status.${s.status === "ERROR" ? "failed" : s.status === "OK" ? "finished" : "unknown"}.span-status`, s.status)),
      h("table.grid.kv.span-info",
        h("tbody",
          row("Span ID", h("code", s.id)),
          row("Parent", s.parent?.name || (s.parentId && h("code", `${s.parentId} (not in the trace)`))),
          row("Start", at(s.start)),
          row("Duration", s.open ? "not ended" : fmtMs((s.end - s.start) / 1e6)),
          row("Status message", s.statusMessage),
          row("Tokens", fmtTokens(s.attributes["mlflow.chat.tokenUsage"])),
        )),
      exceptions.map((e) => h("div.exception",
        h("strong", `${e.attributes["exception.type"] || "Exception"}: ${e.attributes["exception.message"] ?? ""}`),
        e.attributes["exception.stacktrace"] ? h("pre.span-json.stacktrace", String(e.attributes["exception.stacktrace"])) : null)),
      section("Inputs", "span-inputs", s.inputs, s.hasInputs),
      section("Outputs", "span-outputs", s.outputs, s.hasOutputs),
      !s.hasInputs && !s.hasOutputs ? h("p.muted", "No inputs or outputs recorded.") : null,
      attrs.length ? [h("h3", "Attributes"), h("table.grid.kv#span-attributes", h("tbody", attrs.map(([k, v]) =>
        h("tr", h("th", { scope: "row" }, k), h("td", typeof v === "object" && v !== null ? h("pre.span-json", pretty(v)) : String(v))))))] : null,
      s.events.length ? [h("h3", "Events"), h("ol.span-events#span-events", s.events.map((e) =>
        h("li", h("b", e.name), " ", h("span.muted", at(e.time)),
          e.name === "exception" ? h("span.muted", " (shown above)")
            : Object.keys(e.attributes).length ? h("pre.span-json", pretty(e.attributes)) : null)))] : null,
    ));
  }

  renderTree();
  renderDetail();
  return h("div.span-view",
    h("div.span-pane",
      h("div.span-summary",
        h("span.muted", `${tree.spans.length} span${tree.spans.length === 1 ? "" : "s"}`,
          errors ? h("span.error", `, ${errors} with an error`) : null, `, ${fmtMs(total / 1e6)}`),
        h("span.spacer"), findCount, find),
      list),
    detail,
  );
}
