// A run: overview (editable description), params, metrics (latest values and charts), tags
// (add/edit/delete), logged models, artifacts, and its traces (a tab only when it has some).
import { api } from "./api.js";
import { artifactBrowser } from "./artifacts.js";
import { clear, fmtDuration, fmtNum, fmtTime, h, tabNav, toast } from "./dom.js";
import { chartPanel } from "./metrics.js";
import { runFilter, traceList } from "./traces.js";

const NOTE = "mlflow.note.content";
const PARENT = "mlflow.parentRunId";

function kvTable(id, rows, headers = ["Name", "Value"]) {
  if (!rows.length) return h("p.muted", "None.");
  return h(`table.grid.kv#${id}`, h("thead", h("tr", headers.map((x) => h("th", x)))), h("tbody", rows));
}

export async function runPage(root, ctx, runId) {
  let run;
  try {
    run = (await api.getRun(runId)).run;
  } catch (e) {
    root.append(h("p.error", e.message));
    return;
  }
  if (!ctx.alive()) return;
  const info = run.info;
  const tags = Object.fromEntries((run.data.tags || []).map((t) => [t.key, t.value]));
  const params = run.data.params || [];
  const metrics = run.data.metrics || [];
  const expId = info.experiment_id;

  // The run's first traces decide whether it gets a Traces tab: a run without any shows nothing of them.
  const [children, models, experiment, traces] = await Promise.all([
    api.table({ experiment_ids: [expId], parent_id: runId, limit: 1000, offset: 0 }).then((r) => r.rows).catch(() => []),
    api.searchModels(expId, `source_run_id = '${runId}'`).then((r) => r.models || []).catch(() => []),
    api.getExperiment(expId).then((r) => r.experiment).catch(() => ({ name: expId })),
    api.searchTraces(expId, { filter: runFilter(runId), maxResults: 100 }).catch(() => ({})),
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

  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", h("a", { href: `#/experiments/${expId}` }, experiment.name), " / ",
        h("span#run-name", info.run_name)),
      h(`span.status.${info.status.toLowerCase()}`, info.status),
      info.lifecycle_stage === "deleted" ? h("span.status.deleted", "deleted") : null,
    ),
    nav,
    body,
  );

  if (tab === "metrics") {
    body.append(h("h2", "Metrics"), metricsTable(metrics));
    const keys = metrics.map((m) => m.key).sort();
    if (keys.length) body.append(chartPanel(ctx, { runs: [{ ...info }], keys }));
  } else if (tab === "artifacts") {
    body.append(await artifactBrowser(ctx, { run_id: runId }, info.artifact_uri));
  } else if (tab === "traces") {
    body.append(await traceList(ctx, {
      experimentId: expId,
      baseFilter: runFilter(runId),
      hide: ["run"],
      sync: (p) => ctx.setParams({ tab: "traces", ...p }),
      empty: "This run has no traces.",
    }));
  } else {
    body.append(overview(), h("h2", "Parameters"), paramsTable(), h("h2", "Metrics"), metricsTable(metrics),
      h("h2", "Tags"), tagsSection(), h("h2", "Logged models"), modelsTable());
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
      description(),
    );
  }

  function description() {
    const view = h("div.note#description", tags[NOTE] || h("span.muted", "No description."));
    const box = h("div.description", h("h2", "Description"), view);
    const edit = h("button#edit-description", { on: { click: () => {
      const area = h("textarea#description-input", { rows: 6, cols: 80, "aria-label": "Description" });
      area.value = tags[NOTE] || "";
      const save = h("button#save-description", { on: { click: async () => {
        try {
          await api.setTag(runId, NOTE, area.value);
          tags[NOTE] = area.value;
          toast("Description saved");
          clear(view).append(area.value || h("span.muted", "No description."));
          edit.hidden = false;
        } catch (e) {
          toast(e.message, "error");
        }
      } } }, "Save");
      const cancel = h("button", { on: { click: () => { clear(view).append(tags[NOTE] || h("span.muted", "No description.")); edit.hidden = false; } } }, "Cancel");
      clear(view).append(area, h("div", save, cancel));
      edit.hidden = true;
      area.focus();
    } } }, "Edit");
    box.append(edit);
    return box;
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

  function tagsSection() {
    const wrap = h("div#tags");
    const render = () => {
      const keys = Object.keys(tags).filter((k) => k !== NOTE).sort();
      const rows = keys.map((k) => {
        const valueCell = h("td", tags[k]);
        const editBtn = h("button.edit-tag", { on: { click: () => {
          const input = h("input.tag-value", { value: tags[k], size: 40, "aria-label": `Value of tag ${k}` });
          clear(valueCell).append(h("form.inline", { on: { submit: async (ev) => {
            ev.preventDefault();
            try {
              await api.setTag(runId, k, input.value);
              tags[k] = input.value;
              render();
            } catch (e) {
              toast(e.message, "error");
            }
          } } }, input, h("button", { type: "submit" }, "Save")));
          input.focus();
        } }, "aria-label": `Edit tag ${k}` }, "Edit");
        const delBtn = h("button.danger.delete-tag", { on: { click: async () => {
          try {
            await api.deleteTag(runId, k);
            delete tags[k];
            render();
          } catch (e) {
            toast(e.message, "error");
          }
        } }, "aria-label": `Delete tag ${k}` }, "Delete");
        return h("tr", { dataset: { tag: k } }, h("td", k), valueCell, h("td.actions", editBtn, delBtn));
      });
      const keyIn = h("input#new-tag-key", { placeholder: "key", "aria-label": "New tag key" });
      const valIn = h("input#new-tag-value", { placeholder: "value", "aria-label": "New tag value" });
      const add = async (ev) => {
        ev.preventDefault();
        if (!keyIn.value.trim()) return;
        try {
          await api.setTag(runId, keyIn.value.trim(), valIn.value);
          tags[keyIn.value.trim()] = valIn.value;
          render();
        } catch (e) {
          toast(e.message, "error");
        }
      };
      clear(wrap).append(
        kvTable("tags-table", rows, ["Key", "Value", ""]),
        h("form.inline#add-tag", { on: { submit: add } }, keyIn, valIn, h("button", { type: "submit" }, "Add tag")),
      );
    };
    render();
    return wrap;
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
}
