// An experiment's views share a heading and tabs (Runs, Traces, Models, Datasets, Scorers, About); this module holds
// them and two of the views: the logged models of the experiment (MLflow 3's `logged-models/search`)
// and its details, description and tags (`experiments/set-experiment-tag`).
import { api } from "./api.js";
import { clear, fmtTime, h, readOrSay, reloads, tabNav } from "./dom.js";
import { descriptionEditor, tagEditor } from "./editors.js";
import { allowed, signedIn } from "./permissions.js";

const NOTE = "mlflow.note.content";

/** Runs | Traces | Models | Datasets | Scorers | About, on top of every view of an experiment. */
export function experimentTabs(expId, active) {
  return tabNav("Experiment views", [
    { id: "runs", label: "Runs", href: `#/experiments/${expId}` },
    { id: "traces", label: "Traces", href: `#/experiments/${expId}/traces` },
    { id: "models", label: "Models", href: `#/experiments/${expId}/models` },
    { id: "datasets", label: "Datasets", href: `#/experiments/${expId}/datasets` },
    { id: "scorers", label: "Scorers", href: `#/experiments/${expId}/scorers` },
    { id: "about", label: "About", href: `#/experiments/${expId}/about` },
  ], active);
}

/** "Experiments / <name>": the name filled in when the experiment has been read. */
export function experimentHeading(ctx, expId, ...extra) {
  const expName = h("span#experiment-name", `#${expId}`);
  api.getExperiment(expId).then((r) => { if (ctx.alive()) expName.textContent = r.experiment.name; }).catch(() => {});
  return h("div.toolbar", h("h1", h("a", { href: "#/" }, "Experiments"), " / ", expName), ...extra);
}

/** `#/experiments/<id>/models?filter=…`: the experiment's logged models, newest first, 100 a page. */
export async function experimentModelsPage(root, ctx, expId) {
  const filterInput = h("input#model-filter", {
    value: ctx.params.get("filter") || "",
    placeholder: "Filter, e.g. name = 'model' AND metrics.accuracy > 0.9",
    "aria-label": "Filter logged models",
  });
  const error = h("div.filter-error", { hidden: true });
  const list = h("div");
  const tbody = h("tbody");
  const more = h("button#more-logged-models", { hidden: true }, "Load more");
  let token = null;
  more.addEventListener("click", () => load(token));
  const search = (ev) => {
    ev.preventDefault();
    const filter = filterInput.value.trim();
    ctx.setParams(filter ? { filter } : {});
    load(null);
  };
  root.append(
    experimentHeading(ctx, expId),
    experimentTabs(expId, "models"),
    h("form.filterbar", { on: { submit: search } }, filterInput, h("button#search-models", { type: "submit" }, "Search")),
    error,
    list,
  );

  const loads = reloads();
  async function load(pageToken) {
    const turn = loads.start(!pageToken);
    let page;
    try {
      page = await api.searchModels(expId, filterInput.value.trim(), pageToken);
    } catch (e) {
      if (loads.current(turn)) {
        error.textContent = e.message;
        error.hidden = false;
      }
      return;
    }
    const models = page.models || [];
    const runIds = [...new Set(models.map((m) => m.info.source_run_id).filter(Boolean))];
    const runs = runIds.length ? await api.bulkGet(runIds).then((r) => r.runs || []).catch(() => []) : [];
    if (!ctx.alive() || !loads.current(turn)) return;
    const runNames = Object.fromEntries(runs.map((r) => [r.info.run_id, r.info.run_name]));
    error.hidden = true;
    if (!pageToken) {
      clear(tbody);
      clear(list);
      if (!models.length) {
        list.append(h("p.muted", filterInput.value.trim()
          ? "No logged model matches."
          : "No logged models in this experiment yet: mlflow.<flavor>.log_model records one."));
        return;
      }
      list.append(h("table.grid#logged-models",
        h("thead", h("tr", ["Name", "Model ID", "Type", "Status", "Source run", "Created"].map((x) => h("th", x)))),
        tbody), more);
    }
    tbody.append(...models.map(({ info }) => h("tr", { dataset: { modelId: info.model_id } },
      h("td", h("a.model-link", { href: `#/models/${info.model_id}` }, info.name)),
      h("td", h("code", info.model_id)),
      h("td", info.model_type || ""),
      h("td", (info.status || "").replace(/^LOGGED_MODEL_/, "")),
      h("td", info.source_run_id ? h("a.run-link", { href: `#/runs/${info.source_run_id}` }, runNames[info.source_run_id] || info.source_run_id) : ""),
      h("td", fmtTime(info.creation_timestamp_ms)),
    )));
    token = page.next_page_token || null;
    more.hidden = !token;
  }

  await load(null);
}

/** `#/experiments/<id>/about`: details, description (the `mlflow.note.content` tag, as in MLflow) and tags,
 * editable by those who may edit the experiment. */
export async function experimentAboutPage(root, ctx, expId) {
  const experiment = await readOrSay(root, api.getExperiment(expId).then((r) => r.experiment));
  if (!experiment) return;
  const [withUsers, can] = await Promise.all([signedIn(), allowed("experiment", expId)]);
  if (!ctx.alive()) return;
  const tags = Object.fromEntries((experiment.tags || []).map((t) => [t.key, t.value]));
  const row = (k, v) => (v ? h("tr", h("th", { scope: "row" }, k), h("td", v)) : null);
  root.append(
    h("div.toolbar", h("h1", h("a", { href: "#/" }, "Experiments"), " / ", h("span#experiment-name", experiment.name)),
      experiment.lifecycle_stage === "deleted" ? h("span.status.deleted", "deleted") : null),
    experimentTabs(expId, "about"),
    h("table.grid.kv#experiment-details",
      h("tbody",
        row("Experiment ID", h("code", experiment.experiment_id)),
        row("Artifact location", h("code", experiment.artifact_location)),
        row("Created", fmtTime(experiment.creation_time)),
        row("Last update", fmtTime(experiment.last_update_time)),
        row("Permissions", withUsers && can.manage && h("a#experiment-permissions", { href: `#/experiments/${expId}/permissions` }, "Who may do what")),
      ),
    ),
    descriptionEditor(tags[NOTE], can.edit && ((text) => api.setExperimentTag(expId, NOTE, text))),
    h("h2", "Tags"),
    tagEditor(tags, {
      ...(can.edit && {
        save: (key, value) => api.setExperimentTag(expId, key, value),
        remove: (key) => api.deleteExperimentTag(expId, key),
      }),
      hidden: [NOTE],
    }),
  );
}
