// The page router: `#/` experiments, `#/experiments/<id>` runs, `#/experiments/<id>/traces` traces,
// `#/experiments/<id>/models` its logged models, `#/experiments/<id>/about` its description and tags,
// `#/runs/<id>` (or MLflow's `#/experiments/<e>/runs/<id>`) a run, `#/traces/<id>` a trace,
// `#/models/<m-…>` (or MLflow's `#/experiments/<e>/models/<m-…>`) a logged model, `#/compare?runs=a,b`,
// and the model registry as MLflow's UI has it: `#/models`, `#/models/<name>`, `#/models/<name>/versions/<v>`.
// Prompts: `#/prompts`, `#/prompts/<name>?version=<v>`. MLflow 3's evaluation datasets and registered scorers
// of an experiment: `#/experiments/<id>/datasets`, `#/datasets/<id>`, `#/experiments/<id>/scorers[/<name>]`.
// Registry webhooks: `#/webhooks`. With `--auth`: `#/experiments/<id>/permissions`, `#/users`.
import { clear, h } from "./dom.js";
import { datasetPage, experimentDatasetsPage } from "./datasets.js";
import { experimentAboutPage, experimentModelsPage } from "./experiment.js";
import { experimentsPage } from "./experiments.js";
import { runsPage } from "./runs.js";
import { experimentScorersPage, scorerPage } from "./scorers.js";
import { runPage } from "./run.js";
import { comparePage } from "./compare.js";
import { modelPage } from "./models.js";
import { experimentPermissionsPage, signedIn, usersPage } from "./permissions.js";
import { promptPage, promptsPage } from "./prompts.js";
import { modelVersionPage, registeredModelPage, registeredModelsPage } from "./registry.js";
import { tracesPage } from "./traces.js";
import { tracePage } from "./trace.js";
import { webhooksPage } from "./webhooks.js";

const routes = [
  [/^\/?$/, () => experimentsPage],
  [/^\/experiments\/?$/, () => experimentsPage],
  [/^\/experiments\/([^/]+)$/, () => runsPage],
  [/^\/experiments\/([^/]+)\/traces$/, () => tracesPage],
  [/^\/experiments\/([^/]+)\/permissions$/, () => experimentPermissionsPage],
  [/^\/experiments\/([^/]+)\/models$/, () => experimentModelsPage],
  [/^\/experiments\/([^/]+)\/about$/, () => experimentAboutPage],
  [/^\/experiments\/([^/]+)\/datasets$/, () => experimentDatasetsPage],
  [/^\/experiments\/([^/]+)\/scorers$/, () => experimentScorersPage],
  [/^\/experiments\/([^/]+)\/scorers\/([^/]+)$/, () => scorerPage],
  [/^\/datasets\/([^/]+)$/, () => datasetPage],
  [/^\/webhooks$/, () => webhooksPage],
  [/^\/users$/, () => usersPage],
  [/^\/traces\/([^/]+)$/, () => tracePage],
  [/^\/runs\/([^/]+)$/, () => runPage],
  // The link MLflow's client prints for every run ("View run at …/#/experiments/1/runs/<id>").
  [/^\/experiments\/[^/]+\/runs\/([^/]+)$/, () => runPage],
  // The link `mlflow.genai.evaluate` prints ("View the evaluation results at
  // …/#/experiments/1/evaluation-runs?selectedRunUuid=<id>"): the run's Traces tab.
  [/^\/experiments\/([^/]+)\/evaluation-runs$/, () => evaluationLink],
  // A logged model's id (`m-` and 32 hex digits) or a registered model's name.
  [/^\/models\/?$/, () => registeredModelsPage],
  [/^\/models\/(m-[0-9a-f]{32})$/, () => modelPage],
  [/^\/experiments\/[^/]+\/models\/(m-[0-9a-f]{32})$/, () => modelPage],
  [/^\/models\/([^/]+)$/, () => registeredModelPage],
  [/^\/models\/([^/]+)\/versions\/([^/]+)$/, () => modelVersionPage],
  [/^\/prompts\/?$/, () => promptsPage],
  [/^\/prompts\/([^/]+)$/, () => promptPage],
  [/^\/compare$/, () => comparePage],
];

function evaluationLink(root, ctx, experimentId) {
  const runId = ctx.params.get("selectedRunUuid");
  location.replace(runId ? `#/runs/${encodeURIComponent(runId)}?tab=traces` : `#/experiments/${encodeURIComponent(experimentId)}`);
}

// Each page gets a context whose `alive()` turns false when the user navigates away, so that
// timers (live charts) and late responses of the old page stop touching the DOM.
let generation = 0;
const cleanups = [];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  return { path, params: new URLSearchParams(qs || "") };
}

async function render() {
  generation += 1;
  const mine = generation;
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch (e) {
      console.error(e);
    }
  }
  const root = document.getElementById("app");
  const { path, params } = parseHash();
  const ctx = {
    params,
    alive: () => mine === generation,
    onLeave: (fn) => cleanups.push(fn),
    /** Replace the query part of the hash without re-rendering the page. */
    setParams(next) {
      const qs = new URLSearchParams(next).toString();
      history.replaceState(null, "", `#${path}${qs ? "?" + qs : ""}`);
    },
  };
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (m) {
      clear(root);
      try {
        await page()(root, ctx, ...m.slice(1).map(decodeURIComponent));
      } catch (e) {
        console.error(e);
        if (ctx.alive()) root.append(h("p.error", `Could not show this page: ${e.message}`));
      }
      return;
    }
  }
  clear(root).append(h("p.error", `No page at ${path}`));
}

/** Who is signed in, on a server started with `--auth` (the browser sends the credentials it was asked for). */
async function showUser() {
  const user = await signedIn();
  if (!user) return; // no users on this server
  const el = document.getElementById("user");
  el.textContent = `${user.username}${user.is_admin ? " (admin)" : ""}`;
  el.title = "Signed in (HTTP Basic; close the browser to sign out): your password and, for admins, the users";
  el.hidden = false;
}

window.addEventListener("hashchange", render);
render();
showUser();
