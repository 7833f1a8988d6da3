// A logged model (MLflow 3: `logged-models/<id>`): its details, params and tags, the run that logged
// it, and its artifacts (kept under the experiment, `…/models/<id>/artifacts`) in the same browser
// and previews as a run's, its MLmodel shown first.
import { api } from "./api.js";
import { artifactBrowser } from "./artifacts.js";
import { fmtTime, h, readOrSay } from "./dom.js";
import { loggedModelOf, versionHref } from "./registry.js";

export async function modelPage(root, ctx, modelId) {
  const model = await readOrSay(root, api.getModel(modelId).then((r) => r.model));
  if (!model) return;
  if (!ctx.alive()) return;
  const info = model.info;
  const expId = info.experiment_id;
  // Versions registered from this model: those of its run whose source names it (`models:/<id>`).
  const [experiment, run, versions] = await Promise.all([
    api.getExperiment(expId).then((r) => r.experiment).catch(() => ({ name: `#${expId}` })),
    info.source_run_id ? api.getRun(info.source_run_id).then((r) => r.run).catch(() => null) : null,
    info.source_run_id
      ? api.searchModelVersions(null, { runId: info.source_run_id })
        .then((r) => (r.model_versions || []).filter((v) => loggedModelOf(v) === info.model_id)).catch(() => [])
      : [],
  ]);
  if (!ctx.alive()) return;

  const row = (k, v) => (v ? h("tr", h("th", { scope: "row" }, k), h("td", v)) : null);
  const kv = (id, items) => (items?.length
    ? h(`table.grid.kv#${id}`, h("tbody", [...items].sort((a, b) => a.key.localeCompare(b.key)).map((x) => h("tr", h("td", x.key), h("td", x.value)))))
    : h("p.muted", "None."));
  const runLink = (id) => info.source_run_id && h(`a${id}`, { href: `#/runs/${info.source_run_id}` }, run?.info.run_name || info.source_run_id);

  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/" }, "Experiments"), " / ", h("a", { href: `#/experiments/${expId}` }, experiment.name), " / ",
        info.source_run_id ? [runLink(".source-run"), " / "] : null, h("span#model-name", info.name)),
      h("span.status", info.status || ""),
    ),
    h("table.grid.kv#model-overview",
      h("tbody",
        row("Model ID", h("code", info.model_id)),
        row("Type", info.model_type),
        row("Status", info.status),
        row("Created", fmtTime(info.creation_timestamp_ms)),
        row("Source run", runLink("#source-run")),
        row("Registered as", versions.length && h("span#registered-as", versions.map((v, i) =>
          [i ? ", " : "", h("a.version-link", { href: versionHref(v.name, v.version) }, `${v.name} version ${v.version}`)]))),
        row("Artifact URI", h("code", info.artifact_uri)),
      ),
    ),
    h("h2", "Parameters"), kv("model-params", model.data?.params),
    h("h2", "Tags"), kv("model-tags", info.tags),
    h("h2", "Artifacts"),
    await artifactBrowser(ctx, { model_id: info.model_id }, info.artifact_uri),
  );
}
