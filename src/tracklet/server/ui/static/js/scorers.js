// MLflow 3's registered scorers (`Scorer.register`): an experiment's Scorers tab
// (`#/experiments/<id>/scorers`, each scorer's latest version) and a scorer's page
// (`#/experiments/<id>/scorers/<name>?version=<v>`): its versions beside the chosen version's definition,
// read from the serialized scorer the client registered (the judge's instructions and model for LLM
// judges, then the whole of it as indented JSON). tracklet stores scorers and never runs them.
import { api } from "./api.js";
import { clear, fmtTime, h, readOrSay } from "./dom.js";
import { experimentHeading, experimentTabs } from "./experiment.js";
import { jsonBlock, parseLoose, prettyValue } from "./jsonview.js";

export const scorerHref = (expId, name, version) =>
  `#/experiments/${encodeURIComponent(expId)}/scorers/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ""}`;

function parsed(scorer) {
  try {
    const value = parseLoose(scorer.serialized_scorer);
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

/**
 * What a serialized scorer is, as MLflow's client serializes each kind: {kind, model, judge} where judge
 * is the part holding its instructions, guidelines and model (null for the kinds without one).
 */
export function describe(data) {
  if (data.builtin_scorer_class) {
    return { kind: `Built-in judge: ${data.builtin_scorer_class}`, judge: data.builtin_scorer_pydantic_data || {} };
  }
  if (data.instructions_judge_pydantic_data) return { kind: "LLM judge (make_judge)", judge: data.instructions_judge_pydantic_data };
  if (data.memory_augmented_judge_data) {
    const base = data.memory_augmented_judge_data.base_judge || {};
    return { kind: "Memory-augmented judge", judge: describe(base).judge };
  }
  if (data.third_party_scorer_data) return { kind: "Third-party scorer", judge: data.third_party_scorer_data };
  if (data.ensemble_scorer_data) return { kind: "Ensemble of scorers", judge: null };
  if (data.call_source) return { kind: "Code (@scorer)", judge: null };
  return { kind: "Scorer", judge: null };
}

/** The serialized scorer indented, or as it came when it is not JSON. */
function serializedText(scorer) {
  try {
    return prettyValue(parseLoose(scorer.serialized_scorer));
  } catch {
    return scorer.serialized_scorer;
  }
}

const modelCell = (judge) => (judge ? (judge.model ? h("code", judge.model) : h("span.muted", "default")) : h("span.muted", "—"));

/** `#/experiments/<id>/scorers`: the experiment's registered scorers by name, each at its latest version. */
export async function experimentScorersPage(root, ctx, expId) {
  root.append(experimentHeading(ctx, expId), experimentTabs(expId, "scorers"));
  const found = await readOrSay(root, api.listScorers(expId).then((r) => r.scorers || []));
  if (!found || !ctx.alive()) return;
  if (!found.length) {
    root.append(h("p.muted#no-scorers", "No registered scorers in this experiment yet: ",
      h("code", "Guidelines(name=..., guidelines=...).register()"), " or ", h("code", "make_judge(...).register()"), " adds one."));
    return;
  }
  root.append(h("table.grid#scorers",
    h("thead", h("tr", ["Name", "Latest version", "Kind", "Model", "Last registered"].map((x) => h("th", x)))),
    h("tbody", found.map((s) => {
      const { kind, judge } = describe(parsed(s));
      return h("tr", { dataset: { scorer: s.scorer_name } },
        h("td.name", h("a.scorer-link", { href: scorerHref(expId, s.scorer_name) }, s.scorer_name)),
        h("td", h("a", { href: scorerHref(expId, s.scorer_name, s.scorer_version) }, `Version ${s.scorer_version}`)),
        h("td.kind", kind),
        h("td.model", modelCell(judge)),
        h("td.nowrap", fmtTime(s.creation_time)));
    }))));
}

/** `#/experiments/<id>/scorers/<name>?version=<v>`: the versions (newest first) and one's definition. */
export async function scorerPage(root, ctx, expId, name) {
  root.append(experimentHeading(ctx, expId), experimentTabs(expId, "scorers"));
  const versions = await readOrSay(root, api.scorerVersions(expId, name).then((r) => (r.scorers || []).slice().reverse()));
  if (!versions || !ctx.alive()) return;
  const wanted = ctx.params.get("version");
  const chosen = versions.find((v) => String(v.scorer_version) === wanted) || versions[0];
  const detail = h("div#scorer-version");
  const rows = versions.map((v) => {
    const { kind } = describe(parsed(v));
    const pick = (ev) => {
      ev.preventDefault();
      ctx.setParams({ version: String(v.scorer_version) });
      for (const tr of rows) tr.classList.toggle("selected", tr === row);
      for (const a of root.querySelectorAll("#scorer-versions a")) a.removeAttribute("aria-current");
      ev.target.setAttribute("aria-current", "true");
      showVersion(v);
    };
    const row = h(`tr${v === chosen ? ".selected" : ""}`, { dataset: { version: String(v.scorer_version) } },
      h("td", h("a.version-link", { href: scorerHref(expId, name, v.scorer_version), "aria-current": v === chosen ? "true" : null, on: { click: pick } }, `Version ${v.scorer_version}`)),
      h("td.nowrap", fmtTime(v.creation_time)),
      h("td", kind));
    return row;
  });
  root.append(
    h("div.toolbar", h("h2", h("a", { href: `#/experiments/${encodeURIComponent(expId)}/scorers` }, "Scorers"), " / ", h("span#scorer-name", name))),
    h("div.prompt-layout",
      h("table.grid#scorer-versions", h("thead", h("tr", ["Version", "Created", "Kind"].map((x) => h("th", x)))), h("tbody", rows)),
      detail),
  );
  showVersion(chosen);

  function showVersion(v) {
    const data = parsed(v);
    const { kind, judge } = describe(data);
    const field = (label, value, cls) => (value === undefined || value === null || value === "" ? null
      : h("tr", h("th", { scope: "row" }, label), h(`td${cls ? "." + cls : ""}`, value)));
    clear(detail).append(
      h("h2", `Version ${v.scorer_version}`),
      h("table.grid.kv#scorer-definition",
        h("tbody",
          field("Kind", kind),
          field("Model", judge ? modelCell(judge) : null, "model"),
          field("Description", data.description),
          field("Guidelines", judge?.guidelines ? h("pre.template#scorer-guidelines", prettyValue(judge.guidelines)) : null),
          field("Instructions", judge?.instructions ? h("pre.template#scorer-instructions", judge.instructions) : null),
          field("Feedback type", judge?.feedback_value_type ? jsonBlock(judge.feedback_value_type, { clip: 200, label: "the feedback type" }) : null),
          field("Aggregations", Array.isArray(data.aggregations) && data.aggregations.length ? data.aggregations.join(", ") : null),
          field("Registered", fmtTime(v.creation_time)),
          field("Scorer ID", h("code", v.scorer_id)),
        )),
      h("h3", "Serialized definition"),
      h("pre.span-json#scorer-serialized", { tabindex: 0, "aria-label": `Serialized definition of version ${v.scorer_version}` }, serializedText(v)),
      h("p.muted", "Load it with ", h("code", `mlflow.genai.scorers.get_scorer(name=${JSON.stringify(name)}, experiment_id="${expId}", version=${v.scorer_version})`)),
    );
  }
}
