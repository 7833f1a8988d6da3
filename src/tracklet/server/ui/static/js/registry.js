// The model registry (MLflow's `registered-models/*` and `model-versions/*`): the list of registered
// models, a model with its versions, aliases, description and tags, and one version with its stage,
// aliases, source run and logged model. Routes as in MLflow's UI: `#/models`, `#/models/<name>`,
// `#/models/<name>/versions/<version>`. With `--auth` each page shows only the controls the signed-in
// user may use: changes take EDIT of the registered model, deleting and its permissions MANAGE.
import { api } from "./api.js";
import { clear, fmtTime, h, readOrSay, reloads, toast } from "./dom.js";
import { descriptionEditor, kvTable, tagEditor } from "./editors.js";
import { allowed, permissionsPanel } from "./permissions.js";

const STAGES = ["None", "Staging", "Production", "Archived"];
const PAGE = 100;

export const modelHref = (name) => `#/models/${encodeURIComponent(name)}`;
export const versionHref = (name, version) => `${modelHref(name)}/versions/${encodeURIComponent(version)}`;

/** The logged model a version was registered from (MLflow 3 registers `models:/<model id>`), if any. */
export const loggedModelOf = (version) => version.source?.match(/^models:\/(m-[0-9a-f]{32})$/)?.[1] || null;

/** Run names for a page of versions, in one request; a run that cannot be read shows as its id. */
async function runNames(versions) {
  const ids = [...new Set(versions.map((v) => v.run_id).filter(Boolean))];
  if (!ids.length) return {};
  const runs = await api.bulkGet(ids).then((r) => r.runs || []).catch(() => []);
  return Object.fromEntries(runs.map((r) => [r.info.run_id, r.info.run_name]));
}

const aliasChips = (name, aliases) =>
  (aliases || []).map((a) => h("a.chip.alias", { href: versionHref(name, a.version ?? ""), title: `@${a.alias ?? a}` }, `@${a.alias ?? a}`));

/**
 * A registered model's (or prompt's) aliases: a table (alias, version, Delete) and a form to set one.
 * `hrefOf(version)` links a version; `changed()` runs after each change (the versions' chips follow);
 * `editable` false: the aliases are shown only.
 */
export function aliasEditor(ctx, name, initial, { hrefOf, changed = async () => {}, editable = true }) {
  const box = h("div#aliases");
  const attempt = async (change, done) => {
    try {
      await change();
      toast(done);
      const fresh = (await api.getRegisteredModel(name)).registered_model;
      if (ctx.alive()) render(fresh.aliases || []);
      await changed();
    } catch (e) {
      toast(e.message, "error");
    }
  };
  function render(aliases) {
    const rows = aliases.map((a) => h("tr", { dataset: { alias: a.alias } },
      h("td", `@${a.alias}`),
      h("td", h("a", { href: hrefOf(a.version) }, `Version ${a.version}`)),
      editable && h("td.actions", h("button.danger.delete-alias", {
        "aria-label": `Delete alias ${a.alias}`,
        on: { click: () => attempt(() => api.deleteAlias(name, a.alias), `Alias @${a.alias} removed`) },
      }, "Delete"))));
    const aliasIn = h("input#new-alias", { placeholder: "alias", size: 16, "aria-label": "Alias" });
    const versionIn = h("input#new-alias-version", { placeholder: "version", size: 6, "aria-label": "Version the alias points to" });
    const set = (ev) => {
      ev.preventDefault();
      const [alias, version] = [aliasIn.value.trim(), versionIn.value.trim()];
      attempt(() => api.setAlias(name, alias, version), `@${alias} → version ${version}`);
    };
    clear(box).append(
      kvTable("aliases-table", rows, ["Alias", "Version", ...(editable ? [""] : [])]),
      editable && h("form.inline#set-alias", { on: { submit: set } }, aliasIn, versionIn, h("button", { type: "submit" }, "Set alias")),
    );
  }
  render(initial);
  return box;
}

/** A "Load more" button for paged lists: `next(token)` after each page shows it while pages remain. */
export function pager(load, id) {
  const more = h(`button#${id}`, { hidden: true }, "Load more");
  let token = null;
  more.addEventListener("click", () => load(token));
  return {
    more,
    next(pageToken) {
      token = pageToken || null;
      more.hidden = !token;
    },
  };
}

/**
 * A searchable list of registered models (or prompts), 100 a page: the search box, the table and "Load
 * more". `filter(q)` is the search's filter string, `row(model)` a table row; the search is kept in the
 * page's address (`?q=`). Returns the search form and the list, and loads the first page.
 */
export async function searchableModels(ctx, { what, filter, headers, row, empty, id }) {
  const search = h(`input#${id}-search`, { value: ctx.params.get("q") || "", placeholder: "Name contains…", size: 30, "aria-label": `Search ${what} by name` });
  const list = h("div");
  const tbody = h("tbody");
  const pages = pager((token) => load(token), `more-${id}`);
  const loads = reloads();
  const find = (ev) => {
    ev.preventDefault();
    ctx.setParams(search.value.trim() ? { q: search.value.trim() } : {});
    load(null);
  };

  async function load(token) {
    const q = search.value.trim();
    const turn = loads.start(!token);
    let page;
    try {
      page = await api.searchRegisteredModels({ filter: filter(q.replaceAll("'", "''")), pageToken: token, maxResults: PAGE });
    } catch (e) {
      if (loads.current(turn)) clear(list).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive() || !loads.current(turn)) return;
    const models = page.registered_models || [];
    if (!token) {
      clear(list);
      clear(tbody);
      if (!models.length) {
        list.append(h("p.muted", empty(q)));
        return;
      }
      list.append(h(`table.grid#${id}`, h("thead", h("tr", headers.map((x) => h("th", x)))), tbody), pages.more);
    }
    tbody.append(...models.map(row));
    pages.next(page.next_page_token);
  }

  const form = h("form.inline", { on: { submit: find } }, search, h(`button#find-${id}`, { type: "submit" }, "Search"));
  await load(null);
  return { form, list };
}

/** `#/models?q=…`: registered models whose name contains q, by name. */
export async function registeredModelsPage(root, ctx) {
  const nameInput = h("input#new-model-name", { placeholder: "New model name", size: 28, "aria-label": "New registered model name" });
  const create = async (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    try {
      await api.createRegisteredModel(name);
      toast(`Created model ${name}`);
      location.hash = modelHref(name);
    } catch (e) {
      toast(e.message, "error");
    }
  };
  const { form, list } = await searchableModels(ctx, {
    what: "registered models",
    id: "registered-models",
    filter: (q) => (q ? `name ILIKE '%${q}%'` : ""),
    headers: ["Name", "Latest version", "Aliases", "Tags", "Last modified", "Description"],
    row,
    empty: (q) => (q ? "No registered model matches." : "No registered models yet."),
  });
  if (!ctx.alive()) return;
  root.append(
    h("div.toolbar",
      h("h1", "Registered models"),
      form,
      h("form.inline", { on: { submit: create } }, nameInput, h("button#create-model", { type: "submit" }, "Create")),
    ),
    list,
  );

  function row(m) {
    const latest = (m.latest_versions || []).reduce((a, v) => (!a || Number(v.version) > Number(a.version) ? v : a), null);
    return h("tr", { dataset: { model: m.name } },
      h("td.name", h("a.model-link", { href: modelHref(m.name) }, m.name)),
      h("td", latest ? h("a", { href: versionHref(m.name, latest.version) }, `Version ${latest.version}`) : h("span.muted", "—")),
      h("td", aliasChips(m.name, m.aliases)),
      h("td", (m.tags || []).map((t) => h("span.tag-chip", `${t.key}: ${t.value}`))),
      h("td", fmtTime(m.last_updated_timestamp)),
      h("td.snippet", m.description || ""),
    );
  }
}

/** `#/models/<name>`: a registered model, its versions (newest first), aliases, description and tags. */
export async function registeredModelPage(root, ctx, name) {
  const asked = allowed("registered_model", name);
  const model = await readOrSay(root, api.getRegisteredModel(name).then((r) => r.registered_model));
  if (!model) return;
  const can = await asked;
  if (!ctx.alive()) return;
  const tags = Object.fromEntries((model.tags || []).map((t) => [t.key, t.value]));
  const versionsBody = h("tbody");
  const versionsBox = h("div");
  const loads = reloads();
  // Versions ticked to compare: their source runs open in the compare view.
  const picked = new Map(); // version → run id
  const compare = h("button#compare-versions", { disabled: true, on: { click: () => {
    location.hash = `#/compare?runs=${[...new Set(picked.values())].join(",")}`;
  } } }, "Compare source runs");
  const pick = (v, box) => {
    if (box.checked) picked.set(v.version, v.run_id);
    else picked.delete(v.version);
    compare.disabled = new Set(picked.values()).size < 2;
  };
  const pages = pager((token) => loadVersions(token), "more-versions");

  const rename = () => {
    const input = h("input#rename-model-input", { value: name, size: 30, "aria-label": `New name of model ${name}` });
    const submit = async (ev) => {
      ev.preventDefault();
      try {
        const renamed = (await api.renameRegisteredModel(name, input.value.trim())).registered_model;
        toast(`Renamed to ${renamed.name}`);
        location.replace(modelHref(renamed.name));
      } catch (e) {
        toast(e.message, "error");
      }
    };
    clear(title).append(h("form.inline", { on: { submit } }, input, h("button#save-model-name", { type: "submit" }, "Save")));
    input.focus();
  };
  const remove = async () => {
    if (!confirm(`Delete the registered model "${name}" and all its versions?`)) return;
    try {
      await api.deleteRegisteredModel(name);
      toast(`Deleted model ${name}`);
      location.hash = "#/models";
    } catch (e) {
      toast(e.message, "error");
    }
  };
  const title = h("span#registered-model-name", name);
  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/models" }, "Registered models"), " / ", title),
      can.edit && h("button#rename-model", { on: { click: rename } }, "Rename"),
      can.manage && h("button.danger#delete-model", { on: { click: remove } }, "Delete"),
    ),
    h("table.grid.kv#registered-model-overview",
      h("tbody",
        h("tr", h("th", { scope: "row" }, "Created"), h("td", fmtTime(model.creation_timestamp))),
        h("tr", h("th", { scope: "row" }, "Last modified"), h("td", fmtTime(model.last_updated_timestamp))),
      ),
    ),
    descriptionEditor(model.description, can.edit && ((text) => api.updateRegisteredModel(name, text))),
    h("h2", "Versions"), versionsBox,
    h("h2", "Aliases"), aliasEditor(ctx, name, model.aliases || [],
      { hrefOf: (v) => versionHref(name, v), changed: refreshVersions, editable: can.edit }),
    h("h2", "Tags"), tagEditor(tags, can.edit ? {
      save: (key, value) => api.setRegisteredModelTag(name, key, value),
      remove: (key) => api.deleteRegisteredModelTag(name, key),
    } : {}),
  );
  await loadVersions(null);
  const permissions = can.manage && await permissionsPanel(ctx, "registered_model", name);
  if (permissions && ctx.alive()) root.append(permissions);

  async function refreshVersions() {
    picked.clear();
    compare.disabled = true;
    await loadVersions(null);
  }

  async function loadVersions(token) {
    const turn = loads.start(!token);
    const page = await api.searchModelVersions(name, { pageToken: token, maxResults: PAGE });
    const versions = page.model_versions || [];
    const names = await runNames(versions);
    if (!ctx.alive() || !loads.current(turn)) return;
    if (!token) {
      clear(versionsBody);
      clear(versionsBox);
      if (!versions.length) {
        versionsBox.append(h("p.muted", "No versions yet: register a logged model (mlflow.register_model) to add one."));
        return;
      }
      versionsBox.append(
        h("div.toolbar.actions", compare),
        h("table.grid#model-versions",
          h("thead", h("tr", ["", "Version", "Aliases", "Stage", "Status", "Created", "Source run", "Logged model", "Description"].map((x) => h("th", x)))),
          versionsBody),
        pages.more);
    }
    versionsBody.append(...versions.map((v) => {
      const logged = loggedModelOf(v);
      const box = v.run_id && h("input.select-version", { type: "checkbox", "aria-label": `Select version ${v.version} to compare` });
      box?.addEventListener("change", () => pick(v, box));
      return h("tr", { dataset: { version: v.version } },
        h("td", box || ""),
        h("td", h("a.version-link", { href: versionHref(name, v.version) }, `Version ${v.version}`)),
        h("td", aliasChips(name, (v.aliases || []).map((alias) => ({ alias, version: v.version })))),
        h("td", v.current_stage === "None" ? "" : h(`span.stage.${v.current_stage.toLowerCase()}`, v.current_stage)),
        h("td", v.status),
        h("td", fmtTime(v.creation_timestamp)),
        h("td", v.run_id ? h("a.run-link", { href: `#/runs/${v.run_id}` }, names[v.run_id] || v.run_id) : ""),
        h("td", logged ? h("a.logged-model-link", { href: `#/models/${logged}` }, h("code", logged)) : ""),
        h("td.snippet", v.description || ""),
      );
    }));
    pages.next(page.next_page_token);
  }
}

/** `#/models/<name>/versions/<version>`: one version, its stage, aliases, source, description and tags. */
export async function modelVersionPage(root, ctx, name, version) {
  const asked = allowed("registered_model", name);
  const v = await readOrSay(root, api.getModelVersion(name, version).then((r) => r.model_version));
  if (!v) return;
  const [names, can] = await Promise.all([runNames([v]), asked]);
  if (!ctx.alive()) return;
  const tags = Object.fromEntries((v.tags || []).map((t) => [t.key, t.value]));
  const logged = loggedModelOf(v);
  const stageBox = h("span#stage");
  const aliasesBox = h("span#version-aliases");

  const row = (k, val) => (val ? h("tr", h("th", { scope: "row" }, k), h("td", val)) : null);
  const remove = async () => {
    if (!confirm(`Delete version ${version} of "${name}"?`)) return;
    try {
      await api.deleteModelVersion(name, version);
      toast(`Deleted version ${version}`);
      location.hash = modelHref(name);
    } catch (e) {
      toast(e.message, "error");
    }
  };
  root.append(
    h("div.toolbar",
      h("h1", h("a", { href: "#/models" }, "Registered models"), " / ",
        h("a#version-model-link", { href: modelHref(name) }, name), " / ", h("span#version-name", `Version ${version}`)),
      can.manage && h("button.danger#delete-version", { on: { click: remove } }, "Delete version"),
    ),
    h("table.grid.kv#version-overview",
      h("tbody",
        row("Stage", stageBox),
        row("Aliases", aliasesBox),
        row("Status", [v.status, v.status_message ? ` (${v.status_message})` : ""]),
        row("Registered", fmtTime(v.creation_timestamp)),
        row("Last modified", fmtTime(v.last_updated_timestamp)),
        row("Registered by", v.user_id),
        row("Source run", v.run_id && h("a#version-run", { href: `#/runs/${v.run_id}` }, names[v.run_id] || v.run_id)),
        row("Logged model", logged && h("a#version-logged-model", { href: `#/models/${logged}` }, h("code", logged))),
        row("Source", h("code", v.source)),
      ),
    ),
    descriptionEditor(v.description, can.edit && ((text) => api.updateModelVersion(name, version, text))),
    h("h2", "Tags"), tagEditor(tags, can.edit ? {
      save: (key, value) => api.setModelVersionTag(name, version, key, value),
      remove: (key) => api.deleteModelVersionTag(name, version, key),
    } : {}),
  );
  renderStage(v.current_stage);
  renderAliases(v.aliases || []);

  async function refresh() {
    const fresh = (await api.getModelVersion(name, version)).model_version;
    if (!ctx.alive()) return;
    renderStage(fresh.current_stage);
    renderAliases(fresh.aliases || []);
  }

  function renderStage(current) {
    const badge = h(`span.stage.${current.toLowerCase()}`, current);
    if (!can.edit) return clear(stageBox).append(badge);
    const select = h("select#stage-select", { "aria-label": "New stage" },
      STAGES.map((s) => h("option", { value: s, selected: s === current }, s)));
    const archive = h("input#archive-existing", { type: "checkbox" });
    const submit = async (ev) => {
      ev.preventDefault();
      try {
        await api.transitionStage(name, version, select.value, archive.checked);
        toast(`Version ${version} is now in ${select.value}`);
        await refresh();
      } catch (e) {
        toast(e.message, "error");
      }
    };
    clear(stageBox).append(h("form.inline#transition", { on: { submit } },
      badge, " → ", select,
      h("label", archive, " archive the others in that stage"),
      h("button#transition-stage", { type: "submit" }, "Transition")));
  }

  function renderAliases(aliases) {
    if (!can.edit) return clear(aliasesBox).append(...aliases.map((alias) => h("span.chip.alias", `@${alias}`)));
    const chips = aliases.map((alias) => h("span.chip.alias", `@${alias}`,
      h("button.chip-remove", { "aria-label": `Remove alias ${alias}`, title: `Remove @${alias}`, on: { click: async () => {
        try {
          await api.deleteAlias(name, alias);
          await refresh();
        } catch (e) {
          toast(e.message, "error");
        }
      } } }, "×")));
    const input = h("input#version-alias", { placeholder: "alias", size: 14, "aria-label": `Alias to point at version ${version}` });
    const submit = async (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) return;
      try {
        await api.setAlias(name, input.value.trim(), version);
        await refresh();
      } catch (e) {
        toast(e.message, "error");
      }
    };
    clear(aliasesBox).append(...chips, h("form.inline#add-version-alias", { on: { submit } }, input, h("button", { type: "submit" }, "Add alias")));
  }
}
