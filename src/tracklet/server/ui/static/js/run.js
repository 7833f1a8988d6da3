// A run: overview (editable description), params, metrics (latest values and charts), tags
// (add/edit/delete), logged models, artifacts, and its traces (a tab only when it has some).
import { api } from "./api.js";
import { artifactBrowser } from "./artifacts.js";
import { clear, fmtDuration, fmtNum, fmtTime, h, readOrSay, tabNav, toast } from "./dom.js";
import { descriptionEditor, kvTable, tagEditor } from "./editors.js";
import { modelHref, versionHref } from "./registry.js";
import { chartPanel } from "./metrics.js";
import { allowed } from "./permissions.js";
import { runFilter, traceList } from "./traces.js";

const NOTE = "mlflow.note.content";
const PARENT = "mlflow.parentRunId";

export async function runPage(root, ctx, runId) {
  const run = await readOrSay(root, api.getRun(runId).then((r) => r.run));
  if (!run) return;
  if (!ctx.alive()) return;
  const info = run.info;
  const tags = Object.fromEntries((run.data.tags || []).map((t) => [t.key, t.value]));
  const params = run.data.params || [];
  const metrics = run.data.metrics || [];
  const expId = info.experiment_id;

  // The run's first traces decide whether it gets a Traces tab: a run without any shows nothing of them.
  const [children, models, versions, experiment, traces, can] = await Promise.all([
    api.table({ experiment_ids: [expId], parent_id: runId, limit: 1000, offset: 0 }).then((r) => r.rows).catch(() => []),
    api.searchModels(expId, `source_run_id = '${runId}'`).then((r) => r.models || []).catch(() => []),
    api.searchModelVersions(null, { runId }).then((r) => r.model_versions || []).catch(() => []),
    api.getExperiment(expId).then((r) => r.experiment).catch(() => ({ name: expId })),
    api.searchTraces(expId, { filter: runFilter(runId), maxResults: 100 }).catch(() => ({})),
    allowed("experiment", expId), // renaming and tags take EDIT, deleting and restoring MANAGE
  ]);
  const traceCount = (traces.traces || []).length;
  const traceCountText = `${traceCount}${traces.next_page_token ? "+" : ""}`; // "100+": more pages exist
  if (!ctx.alive()) return;

  const tab = ctx.params.get("tab") || "overview";
  const tabs = ["overview", "metrics", "artifacts", ...(traceCount ? ["traces"] : [])];
  const body = h("div.tab-body");
  const nav = tabNav("Run views", tabs.map((t) => ({
    id: t,
    href: `#/runs/${runId}?tab=${t}`,
    label: t === "traces" ? `Traces (${traceCountText})` : t[0].toUpperCase() + t.slice(1),
  })), tab);

  const runName = h("span#run-name", info.run_name);
  const rename = () => {
    const input = h("input#run-name-input", { value: info.run_name, size: 30, "aria-label": "New run name" });
    const submit = async (ev) => {
      ev.preventDefault();
      try {
        await api.renameRun(runId, input.value.trim());
        info.run_name = input.value.trim();
        toast("Renamed");
      } catch (e) {
        toast(e.message, "error");
      }
      clear(runName).append(info.run_name);
    };
    clear(runName).append(h("form.inline", { on: { submit } }, input, h("button#save-run-name", { type: "submit" }, "Save")));
    input.focus();
  };
  const deleted = info.lifecycle_stage === "deleted";
  const setStage = async () => {
    if (!deleted && !confirm(`Delete run "${info.run_name}"?`)) return;
    try {
      await (deleted ? api.restoreRun(runId) : api.deleteRun(runId));
      toast(deleted ? "Restored" : "Deleted: tick 'deleted runs' in the runs table to see it, or restore it here");
      window.dispatchEvent(new HashChangeEvent("hashchange")); // show the run again, as it is now
    } catch (e) {
      toast(e.message, "error");
    }
  };
  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", h("a", { href: `#/experiments/${expId}` }, experiment.name), " / ", runName),
      h(`span.status.${info.status.toLowerCase()}`, info.status),
      deleted ? h("span.status.deleted", "deleted") : null,
      can.edit && h("button#rename-run", { on: { click: rename } }, "Rename"),
      can.manage && h(`button#${deleted ? "restore-run" : "delete-run"}${deleted ? "" : ".danger"}`, { on: { click: setStage } }, deleted ? "Restore" : "Delete"),
    ),
    nav,
    body,
  );

  if (tab === "metrics") {
    // The machine's figures (`log_system_metrics`, MLflow's `system/…` names) get charts of their own.
    const keys = metrics.map((m) => m.key).sort();
    const model = keys.filter((k) => !k.startsWith("system/"));
    const system = keys.filter((k) => k.startsWith("system/"));
    body.append(h("h2", "Metrics"), metricsTable(metrics));
    if (model.length) body.append(chartPanel(ctx, { runs: [{ ...info }], keys: model }));
    if (system.length) body.append(h("h2#system-metrics", "System metrics"), chartPanel(ctx, { runs: [{ ...info }], keys: system }));
  } else if (tab === "artifacts") {
    body.append(await artifactBrowser(ctx, { run_id: runId }, info.artifact_uri));
  } else if (tab === "traces") {
    body.append(await traceList(ctx, {
      experimentId: expId,
      baseFilter: runFilter(runId),
      hide: ["run"],
      sync: (p) => ctx.setParams({ tab: "traces", ...p }),
      empty: "This run has no traces.",
      canDelete: can.manage,
    }));
  } else {
    body.append(overview(), h("h2", "Parameters"), paramsTable(), h("h2", "Metrics"), metricsTable(metrics),
      h("h2", "Tags"), tagEditor(tags, {
        ...(can.edit && {
          save: (key, value) => api.setTag(runId, key, value),
          remove: (key) => api.deleteTag(runId, key),
        }),
        hidden: [NOTE],
      }), h("h2", "Datasets"), datasetsTable(), h("h2", "Logged models"), modelsTable(),
      h("h2", "Registered model versions"), versionsTable());
  }

  function overview() {
    const src = tags["mlflow.source.name"];
    const commit = tags["mlflow.source.git.commit"];
    const parent = tags[PARENT];
    const row = (k, v) => (v ? h("tr", h("th", k), h("td", v)) : null);
    return h("div.overview",
      h("table.grid.kv#overview",
        h("tbody",
          row("Run ID", h("code", runId)),
          row("Status", info.status),
          row("Started", fmtTime(info.start_time)),
          row("Ended", fmtTime(info.end_time)),
          row("Duration", fmtDuration(info.start_time, info.end_time || (info.status === "RUNNING" ? null : info.start_time))),
          row("User", info.user_id || tags["mlflow.user"]),
          row("Source", src),
          row("Git commit", commit && h("code", commit)),
          row("Parent run", parent && h("a", { href: `#/runs/${parent}` }, parent)),
          row("Child runs", children.length && h("span", children.map((c, i) => [i ? ", " : "", h("a", { href: `#/runs/${c.run_id}` }, c.run_name)]))),
          row("Artifact URI", h("code", info.artifact_uri)),
          row("Traces", traceCount && h("a#run-traces-link", { href: `#/runs/${runId}?tab=traces` },
            `${traceCountText} trace${traceCountText === "1" ? "" : "s"}`)),
        ),
      ),
      descriptionEditor(tags[NOTE], can.edit && ((text) => api.setTag(runId, NOTE, text).then(() => { tags[NOTE] = text; }))),
    );
  }

  function paramsTable() {
    const sorted = [...params].sort((a, b) => a.key.localeCompare(b.key));
    return kvTable("params", sorted.map((p) => h("tr", h("td", p.key), h("td", p.value))));
  }

  function metricsTable(list) {
    const sorted = [...list].sort((a, b) => a.key.localeCompare(b.key));
    return kvTable("metrics", sorted.map((m) =>
      h("tr", h("td", h("a", { href: `#/runs/${runId}?tab=metrics` }, m.key)), h("td.num", fmtNum(m.value)), h("td.num", String(m.step ?? 0)), h("td", fmtTime(m.timestamp ?? 0)))),
      ["Metric", "Latest value", "Step", "Time"]);
  }

  function modelsTable() {
    return kvTable("models", models.map((m) => {
      const i = m.info || m;
      const href = `#/models/${encodeURIComponent(i.model_id)}`;
      return h("tr", { dataset: { modelId: i.model_id } }, h("td", h("a.model-link", { href }, i.name)), h("td", h("code", i.model_id)),
        h("td", i.model_type || ""), h("td", i.status || ""),
        h("td", i.artifact_uri ? h("a", { href, title: "Browse this model's artifacts" }, h("code", i.artifact_uri)) : ""));
    }), ["Name", "Model ID", "Type", "Status", "Artifacts"]);
  }

  function versionsTable() {
    return kvTable("registered-versions", versions.map((v) => h("tr", { dataset: { model: v.name, version: v.version } },
      h("td", h("a", { href: modelHref(v.name) }, v.name)),
      h("td", h("a.version-link", { href: versionHref(v.name, v.version) }, `Version ${v.version}`)),
      h("td", (v.aliases || []).map((a) => `@${a}`).join(" ")),
      h("td", v.current_stage === "None" ? "" : v.current_stage))), ["Model", "Version", "Aliases", "Stage"]);
  }

  // Datasets the run used (`mlflow.log_input`): the context (training, eval…) is the input's tag.
  function datasetsTable() {
    const inputs = run.inputs?.dataset_inputs || [];
    return kvTable("datasets", inputs.map(({ dataset: d, tags: inputTags }) => {
      const context = (inputTags || []).find((t) => t.key === "mlflow.data.context")?.value || "";
      const details = [d.schema && ["Schema", d.schema], d.profile && ["Profile", d.profile]].filter(Boolean);
      return h("tr", { dataset: { name: d.name, digest: d.digest } },
        h("td", d.name), h("td", h("code", d.digest)), h("td", context), h("td", d.source_type || ""),
        h("td.wrap", d.source || ""),
        h("td", details.length ? h("details", h("summary", "Schema and profile"),
          details.map(([k, v]) => [h("h4", k), h("pre.json", prettyJson(v))])) : ""));
    }), ["Name", "Digest", "Context", "Source type", "Source", ""]);
  }
}

/** A JSON text indented for reading; other text as it is. */
function prettyJson(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
