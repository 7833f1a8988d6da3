// MLflow 3's evaluation datasets (`mlflow.genai.datasets`): an experiment's Datasets tab
// (`#/experiments/<id>/datasets?q=…`, those linked to it, searched by name) and a dataset's page
// (`#/datasets/<id>`): its details, linked experiments, tags and records, a keyset page at a time as
// `datasets/<id>/records` gives them. Read only: records are written by the client (`merge_records`).
import { api } from "./api.js";
import { clear, fmtTime, h, readOrSay, reloads } from "./dom.js";
import { tagEditor } from "./editors.js";
import { experimentHeading, experimentTabs } from "./experiment.js";
import { jsonBlock, parseLoose } from "./jsonview.js";
import { pager } from "./registry.js";

const PAGE = 100;
const RECORDS_PAGE = 50;

export const datasetHref = (datasetId, experimentId) =>
  `#/datasets/${encodeURIComponent(datasetId)}${experimentId ? `?experiment=${encodeURIComponent(experimentId)}` : ""}`;

/** The number of records MLflow's store keeps in a dataset's profile (`{"num_records": n}`). */
export function recordCount(dataset) {
  try {
    return dataset.profile ? Number(parseLoose(dataset.profile).num_records ?? 0) : 0;
  } catch {
    return 0;
  }
}

const tagsOf = (dataset) => {
  try {
    return dataset.tags ? parseLoose(dataset.tags) : {};
  } catch {
    return {};
  }
};

/** A record's tags without MLflow's own (`mlflow.user`, shown as "by …"); null when none are left. */
function ownTags(tags) {
  const own = Object.entries(tags || {}).filter(([k]) => !k.startsWith("mlflow."));
  return own.length ? Object.fromEntries(own) : null;
}

/** "2026-11-30 06:00:00 by ada" */
const whenBy = (ms, user) => [fmtTime(ms), user ? h("span.muted", ` by ${user}`) : ""];

/** `#/experiments/<id>/datasets?q=…`: the experiment's evaluation datasets, newest first, 100 a page. */
export async function experimentDatasetsPage(root, ctx, expId) {
  const search = h("input#dataset-search", { value: ctx.params.get("q") || "", placeholder: "Name contains…", size: 30, "aria-label": "Search datasets by name" });
  const list = h("div");
  const tbody = h("tbody");
  const pages = pager((token) => load(token), "more-datasets");
  const loads = reloads();
  const find = (ev) => {
    ev.preventDefault();
    ctx.setParams(search.value.trim() ? { q: search.value.trim() } : {});
    load(null);
  };
  root.append(
    experimentHeading(ctx, expId),
    experimentTabs(expId, "datasets"),
    h("form.inline#find-datasets", { on: { submit: find } }, search, h("button", { type: "submit" }, "Search")),
    list,
  );

  async function load(token) {
    const q = search.value.trim();
    const turn = loads.start(!token);
    let page;
    try {
      // ILIKE: part of the name, any case; a quote is doubled in the filter's strings.
      const filter = q ? `name ILIKE '%${q.replaceAll("'", "''")}%'` : "";
      page = await api.searchDatasets(expId, { filter, pageToken: token, maxResults: PAGE });
    } catch (e) {
      if (ctx.alive() && loads.current(turn)) clear(list).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive() || !loads.current(turn)) return;
    const datasets = page.datasets || [];
    if (!token) {
      clear(list);
      clear(tbody);
      if (!datasets.length) {
        list.append(h("p.muted#no-datasets", q
          ? "No dataset of this experiment matches."
          : "No evaluation datasets in this experiment yet: mlflow.genai.datasets.create_dataset makes one."));
        return;
      }
      list.append(h("table.grid#datasets",
        h("thead", h("tr", ["Name", "Dataset ID", "Records", "Created", "Last update", "Tags", "Digest"].map((x) =>
          h(x === "Records" ? "th.num" : "th", x)))),
        tbody), pages.more);
    }
    tbody.append(...datasets.map((d) => h("tr", { dataset: { datasetId: d.dataset_id } },
      h("td.name", h("a.dataset-link", { href: datasetHref(d.dataset_id, expId) }, d.name)),
      h("td", h("code", d.dataset_id)),
      h("td.num.records", recordCount(d).toLocaleString()),
      h("td.nowrap", whenBy(d.created_time, d.created_by)),
      h("td.nowrap", whenBy(d.last_update_time, d.last_updated_by)),
      // MLflow's own tags (`mlflow.user`: who made it, shown as "by …") are left out of the chips.
      h("td.tags", Object.entries(tagsOf(d)).filter(([k]) => !k.startsWith("mlflow.")).map(([k, v]) => h("span.tag-chip", { title: `${k}: ${v}` }, `${k}: ${v}`))),
      h("td", h("code", d.digest)),
    )));
    pages.next(page.next_page_token);
  }

  await load(null);
}

/** A record's source: its type, and the trace it came from as a link (or the document, code… id). */
function sourceCell(record) {
  if (!record.source_type) return "";
  const id = record.source_id;
  const link = id && record.source_type === "TRACE" ? h("a.trace-link", { href: `#/traces/${encodeURIComponent(id)}` }, h("code", id)) : id ? h("code", id) : null;
  return [h("span.status", record.source_type.toLowerCase()), link ? [" ", link] : ""];
}

/** `#/datasets/<id>?experiment=<id>`: a dataset, its linked experiments, tags and records. */
export async function datasetPage(root, ctx, datasetId) {
  const dataset = await readOrSay(root, api.getDataset(datasetId).then((r) => r.dataset));
  if (!dataset) return;
  const experimentIds = await api.datasetExperimentIds(datasetId).then((r) => r.experiment_ids || [], () => []);
  const names = await Promise.all(experimentIds.map((id) => api.getExperiment(id).then((r) => r.experiment.name, () => null)));
  if (!ctx.alive()) return;
  const from = ctx.params.get("experiment") || experimentIds[0];
  const total = recordCount(dataset);
  const row = (k, v) => h("tr", h("th", { scope: "row" }, k), h("td", v));
  let schema = null;
  try {
    schema = dataset.schema ? parseLoose(dataset.schema) : null;
  } catch {
    schema = dataset.schema;
  }

  const records = h("div#records");
  root.append(
    h("div.toolbar", h("h1",
      from ? h("a#dataset-experiment-link", { href: `#/experiments/${encodeURIComponent(from)}/datasets` }, "Datasets") : "Datasets",
      " / ", h("span#dataset-name", dataset.name))),
    h("table.grid.kv#dataset-overview",
      h("tbody",
        row("Dataset ID", h("code", dataset.dataset_id)),
        row("Records", h("span#dataset-record-count", total.toLocaleString())),
        row("Digest", h("code", dataset.digest)),
        row("Created", whenBy(dataset.created_time, dataset.created_by)),
        row("Last update", whenBy(dataset.last_update_time, dataset.last_updated_by)),
        row("Experiments", experimentIds.length
          ? h("span#dataset-experiments", experimentIds.map((id, i) => [i ? ", " : "",
            h("a.experiment-link", { href: `#/experiments/${encodeURIComponent(id)}/datasets`, dataset: { experimentId: id } }, names[i] ?? `#${id}`)]))
          : h("span.muted", "none")),
        schema ? row("Schema", jsonBlock(schema, { clip: 400, label: "the schema" })) : null,
      ),
    ),
    h("h2", "Tags"),
    tagEditor(tagsOf(dataset), {}),
    h("h2", "Records"),
    h("p.muted", "Read in the order they were written. Records are added with ", h("code", "dataset.merge_records(...)"), "."),
    records,
  );

  // Keyset pages: the token of each page shown so far, so "Previous" reads the page before again.
  const tokens = [null];
  let index = 0;
  const loads = reloads();
  const prev = h("button#records-prev", { type: "button", on: { click: () => show(index - 1) } }, "Previous");
  const next = h("button#records-next", { type: "button", on: { click: () => show(index + 1) } }, "Next");
  const where = h("span.muted#records-range", { "aria-live": "polite" });
  const tbody = h("tbody");

  async function show(to) {
    const turn = loads.start(true);
    let page;
    try {
      page = await api.datasetRecords(datasetId, { pageToken: tokens[to], maxResults: RECORDS_PAGE });
    } catch (e) {
      if (ctx.alive() && loads.current(turn)) clear(records).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive() || !loads.current(turn)) return;
    let rows;
    try {
      rows = parseLoose(page.records || "[]");
    } catch (e) {
      clear(records).append(h("p.error", `The records could not be read: ${e.message}`));
      return;
    }
    index = to;
    tokens.length = to + 1;
    if (page.next_page_token) tokens.push(page.next_page_token);
    if (!rows.length && to === 0) {
      clear(records).append(h("p.muted#no-records", "No records yet."));
      return;
    }
    const first = to * RECORDS_PAGE + 1;
    where.textContent = `Records ${first.toLocaleString()}–${(first + rows.length - 1).toLocaleString()}${total ? ` of ${total.toLocaleString()}` : ""}`;
    prev.disabled = index === 0;
    next.disabled = tokens.length <= index + 1;
    clear(tbody).append(...rows.map((r, i) => {
      const n = first + i;
      const cell = (value, what) => h(`td.json.${what}`, value === undefined || value === null ? h("span.muted", "—") : jsonBlock(value, { clip: 300, label: `the ${what} of record ${n}` }));
      return h("tr", { dataset: { recordId: r.dataset_record_id } },
        h("td.num.muted", String(n)),
        cell(r.inputs, "inputs"),
        cell(r.expectations, "expectations"),
        cell(r.outputs, "outputs"),
        cell(ownTags(r.tags), "tags"),
        h("td.source", sourceCell(r)),
        h("td.nowrap", whenBy(r.last_update_time, r.last_updated_by)),
      );
    }));
    if (!records.querySelector("#dataset-records")) {
      clear(records).append(
        h("div.toolbar.actions", prev, next, where),
        h("table.grid.records#dataset-records",
          h("thead", h("tr", ["#", "Inputs", "Expectations", "Outputs", "Tags", "Source", "Last update"].map((x) => h(x === "#" ? "th.num" : "th", x)))),
          tbody));
    }
  }

  await show(0);
}
