// MLflow 3's prompt registry (`mlflow.genai.register_prompt`): prompts are registered models tagged
// `mlflow.prompt.is_prompt`, their versions hold the template (`mlflow.prompt.text`, a text or a list
// of chat messages) and its commit message (the description). `#/prompts` lists them, `#/prompts/<name>`
// shows one: its versions with their templates, aliases and tags (changed, and new versions written, by
// those who may edit the prompt's registered model).
import { api } from "./api.js";
import { fmtTime, h, readOrSay, toast } from "./dom.js";
import { tagEditor } from "./editors.js";
import { allowed } from "./permissions.js";
import { aliasEditor, searchableModels } from "./registry.js";

const IS_PROMPT = "mlflow.prompt.is_prompt";
const TEXT = "mlflow.prompt.text";
const PROMPTS = `tags.\`${IS_PROMPT}\` = 'true'`;

export const promptHref = (name, version) =>
  `#/prompts/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ""}`;

/** Tags a person set, not those MLflow keeps for itself (`mlflow.*`, `_mlflow_*`). */
const own = (tags) => (tags || []).filter((t) => !t.key.startsWith("mlflow.") && !t.key.startsWith("_mlflow"));
const tagOf = (version, key) => (version.tags || []).find((t) => t.key === key)?.value;

/** A template as text: a chat template's messages one per paragraph, "role: content" (`readable`), or
 * its JSON indented (to edit). */
function templateText(version, readable = true) {
  const text = tagOf(version, TEXT) || "";
  try {
    if (!readable) return tagOf(version, "_mlflow_prompt_type") === "chat" ? JSON.stringify(JSON.parse(text), null, 2) : text;
    const messages = JSON.parse(text);
    if (Array.isArray(messages)) return messages.map((m) => `${m.role}: ${m.content}`).join("\n\n");
  } catch {
    // a text template
  }
  return text;
}

/** A template as typed: a JSON list of {role, content} messages is a chat template, anything else text. */
function parseTemplate(text) {
  try {
    const messages = JSON.parse(text);
    if (Array.isArray(messages) && messages.length && messages.every((m) => m && typeof m.role === "string" && typeof m.content === "string")) {
      return { template: JSON.stringify(messages), type: "chat" };
    }
  } catch {
    // text
  }
  return { template: text, type: "text" };
}

/** Template and commit message fields; `save({template, type, message})` runs on submit. */
function templateForm(id, label, save, initial = "") {
  const area = h(`textarea#${id}-template`, { rows: 6, cols: 70, placeholder: "Hello {{name}}: a text, or a JSON list of chat messages", "aria-label": "Template" });
  area.value = initial;
  const message = h(`input#${id}-message`, { placeholder: "Commit message", size: 40, "aria-label": "Commit message" });
  const submit = async (ev) => {
    ev.preventDefault();
    if (!area.value.trim()) return;
    try {
      await save({ ...parseTemplate(area.value), message: message.value.trim() });
    } catch (e) {
      toast(e.message, "error");
    }
  };
  return h(`form.template-form#${id}`, { on: { submit } }, area, h("div.inline", message, h("button", { type: "submit" }, label)));
}

/** `#/prompts?q=…`: the prompts whose name contains q, by name. */
export async function promptsPage(root, ctx) {
  const { form, list } = await searchableModels(ctx, {
    what: "prompts",
    id: "prompts",
    filter: (q) => (q ? `${PROMPTS} AND name ILIKE '%${q}%'` : PROMPTS),
    headers: ["Name", "Latest version", "Aliases", "Tags", "Last modified"],
    row: (p) => {
      const latest = Math.max(0, ...(p.latest_versions || []).map((v) => Number(v.version)));
      return h("tr", { dataset: { prompt: p.name } },
        h("td.name", h("a.prompt-link", { href: promptHref(p.name) }, p.name)),
        h("td", latest ? h("a", { href: promptHref(p.name, latest) }, `Version ${latest}`) : ""),
        h("td", (p.aliases || []).map((a) => h("a.chip.alias", { href: promptHref(p.name, a.version) }, `@${a.alias}`))),
        h("td", own(p.tags).map((t) => h("span.tag-chip", `${t.key}: ${t.value}`))),
        h("td", fmtTime(p.last_updated_timestamp)),
      );
    },
    empty: (q) => (q ? "No prompt matches." : "No prompts yet: mlflow.genai.register_prompt adds one."),
  });
  if (!ctx.alive()) return;
  const nameInput = h("input#new-prompt-name", { placeholder: "New prompt name", size: 28, "aria-label": "New prompt name" });
  const create = templateForm("new-prompt", "Create prompt", async ({ template, type, message }) => {
    const name = nameInput.value.trim();
    if (!name) throw new Error("Give the prompt a name");
    await api.createRegisteredModel(name, [{ key: IS_PROMPT, value: "true" }]);
    await api.createPromptVersion(name, template, type, message);
    toast(`Created prompt ${name}`);
    location.hash = promptHref(name);
  });
  root.append(
    h("div.toolbar", h("h1", "Prompts"), form),
    list,
    h("details.new-prompt", h("summary", "New prompt"), nameInput, create),
  );
}

/** `#/prompts/<name>?version=…`: a prompt's versions, newest first, the chosen one's template in full. */
export async function promptPage(root, ctx, name) {
  const asked = allowed("registered_model", name);
  const prompt = await readOrSay(root, api.getRegisteredModel(name).then((r) => r.registered_model));
  if (!prompt) return;
  const page = await readOrSay(root, api.searchModelVersions(name, { prompts: true, maxResults: 1000 }));
  const can = await asked;
  if (!page || !ctx.alive()) return;
  const versions = page.model_versions || [];
  const tags = Object.fromEntries(own(prompt.tags).map((t) => [t.key, t.value]));
  const chosen = ctx.params.get("version") || versions[0]?.version;
  const shown = h("div#prompt-version");

  const rows = versions.map((v) => h(`tr${v.version === chosen ? ".selected" : ""}`, { dataset: { version: v.version } },
    h("td", h("a.version-link", { href: promptHref(name, v.version) }, `Version ${v.version}`)),
    h("td", (v.aliases || []).map((a) => h("span.chip.alias", `@${a}`))),
    h("td", tagOf(v, "_mlflow_prompt_type") || "text"),
    h("td.snippet", v.description || ""),
    h("td", fmtTime(v.creation_timestamp)),
  ));
  root.append(
    h("div.toolbar", h("h1", h("a", { href: "#/prompts" }, "Prompts"), " / ", h("span#prompt-name", name))),
    h("div.prompt-layout",
      h("table.grid#prompt-versions",
        h("thead", h("tr", ["Version", "Aliases", "Type", "Commit message", "Created"].map((x) => h("th", x)))), h("tbody", rows)),
      shown),
    h("h2", "Aliases"),
    aliasEditor(ctx, name, prompt.aliases || [], { hrefOf: (v) => promptHref(name, v), changed: async () => {
      window.dispatchEvent(new HashChangeEvent("hashchange")); // the versions' chips follow
    }, editable: can.edit }),
    h("h2", "Tags"),
    tagEditor(tags, can.edit ? {
      save: (key, value) => api.setRegisteredModelTag(name, key, value),
      remove: (key) => api.deleteRegisteredModelTag(name, key),
    } : {}),
  );
  const version = versions.find((v) => v.version === chosen);
  if (!version) {
    shown.append(h("p.muted", versions.length ? `No version ${chosen}.` : "No versions."));
    return;
  }
  const variables = [...new Set([...templateText(version).matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]))];
  shown.append(
    h("h2", `Version ${version.version}`),
    version.description ? h("p#prompt-commit", version.description) : null,
    h("pre.template#prompt-template", templateText(version)),
    variables.length ? h("p.muted#prompt-variables", `Variables: ${variables.join(", ")}`) : null,
    h("p.muted", "Load it with ", h("code", `mlflow.genai.load_prompt("prompts:/${name}/${version.version}")`)),
    can.edit && h("details#new-version", h("summary", "New version from this one"),
      templateForm("prompt-version", "Save as a new version", async ({ template, type, message }) => {
        const created = (await api.createPromptVersion(name, template, type, message)).model_version;
        toast(`Version ${created.version} saved`);
        location.hash = promptHref(name, created.version);
      }, templateText(version, false))),
  );
}
