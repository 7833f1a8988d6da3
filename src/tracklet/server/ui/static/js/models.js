// A logged model (MLflow 3: `logged-models/<id>`): its details, params and tags, the run that logged
// it, and its artifacts (kept under the experiment, `…/models/<id>/artifacts`) in the same browser
// and previews as a run's, its MLmodel shown first.
import { api } from "./api.js";
import { artifactBrowser } from "./artifacts.js";
import { fmtTime, h, readOrSay, toast } from "./dom.js";
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
      registerForm(info),
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

/** "Register": a new version of a registered model (created if the name is new) made from this model. */
function registerForm(info) {
  const names = h("datalist#registered-model-names");
  const input = h("input#register-name", { placeholder: "Registered model name", size: 24, list: "registered-model-names",
    "aria-label": "Register this model as a version of (a new name creates the registered model)" });
  input.addEventListener("focus", async () => {
    if (names.childElementCount) return;
    const page = await api.searchRegisteredModels({ maxResults: 100 }).catch(() => ({}));
    names.append(...(page.registered_models || []).map((m) => h("option", { value: m.name })));
  }, { once: true });
  const submit = async (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    try {
      await api.createRegisteredModel(name).catch((e) => {
        if (e.code !== "RESOURCE_ALREADY_EXISTS") throw e; // registering into an existing model
      });
      const version = (await api.registerLoggedModel(name, info)).model_version;
      toast(`Registered as ${name} version ${version.version}`);
      location.hash = versionHref(name, version.version);
    } catch (e) {
      toast(e.message, "error");
    }
  };
  return h("form.inline#register-model", { on: { submit } }, input, names, h("button", { type: "submit" }, "Register"));
}
