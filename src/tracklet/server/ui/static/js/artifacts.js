// The artifact browser of a run or of a logged model: a lazily expanded folder tree, download links
// and previews (images, text/logs, JSON, YAML, CSV as a table, HTML in a sandboxed iframe, a model's
// MLmodel, shown when its folder is opened or, for a logged model, at once).
import { api, artifactUrl } from "./api.js";
import { clear, h } from "./dom.js";

const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp)$/i;
const TEXT = /\.(txt|log|md|py|r|sh|cfg|ini|toml|out|err|ipynb)$|(^|\/)(MLmodel|requirements\.txt|conda\.yaml|python_env\.yaml)$/i;
const PREVIEW_BYTES = 1_000_000;
const CSV_BYTES = 200_000;
const CSV_ROWS = 500;

function fmtSize(n) {
  if (n === undefined || n === null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

/** A small CSV parser (quoted fields, doubled quotes); enough for previews. */
export function parseCsv(text, maxRows) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if ((field || row.length) && rows.length < maxRows) row.push(field), rows.push(row);
  return rows;
}

/** owner: {run_id} or {model_id}; artifactUri: its artifact root (`mlflow-artifacts:/…`). */
export async function artifactBrowser(ctx, owner, artifactUri) {
  const proxied = artifactUri.startsWith("mlflow-artifacts:");
  const tree = h("div.artifact-tree#artifact-tree", { role: "tree", "aria-label": "Artifacts" });
  const preview = h("div.artifact-preview#artifact-preview", { "aria-live": "polite" }, h("p.muted", "Select a file to preview it."));
  const box = h("div.artifacts", tree, preview);
  if (!proxied) {
    return h("p.muted", `Artifacts are stored at ${artifactUri}, which this server does not proxy.`);
  }

  async function list(path) {
    const res = owner.run_id
      ? await api.listArtifacts(owner.run_id, path || undefined)
      : await api.listOwnedArtifacts(owner, path || undefined);
    return (res.files || []).sort((a, b) => (b.is_dir - a.is_dir) || a.path.localeCompare(b.path));
  }

  async function folder(path, into, depth) {
    const files = await list(path);
    if (!files.length && !path) into.append(h("p.muted", "No artifacts."));
    for (const f of files) {
      const name = f.path.split("/").pop();
      if (f.is_dir) {
        const kids = h("div.children", { hidden: true });
        let loaded = false;
        const label = h("a.dir", { href: "javascript:void 0", role: "treeitem", "aria-expanded": "false", dataset: { path: f.path }, style: { paddingLeft: `${depth * 14}px` }, on: { click: async () => {
          kids.hidden = !kids.hidden;
          label.firstChild.textContent = kids.hidden ? "▸ " : "▾ ";
          label.setAttribute("aria-expanded", String(!kids.hidden));
          if (!loaded) {
            loaded = true;
            await folder(f.path, kids, depth + 1);
          }
          const mlmodel = [...kids.querySelectorAll("a.file")].find((a) => a.dataset.path === `${f.path}/MLmodel`);
          if (mlmodel && !kids.hidden) show(mlmodel.dataset.path, undefined, `Model folder ${f.path}`);
        } } }, h("span", { "aria-hidden": "true" }, "▸ "), name);
        into.append(label, kids);
      } else {
        into.append(h("a.file", { href: "javascript:void 0", role: "treeitem", dataset: { path: f.path }, style: { paddingLeft: `${depth * 14 + 14}px` },
          on: { click: () => show(f.path, f.file_size) } }, name, h("span.muted.size", ` ${fmtSize(f.file_size)}`)));
      }
    }
  }

  async function show(path, size, title) {
    for (const a of tree.querySelectorAll("a.selected")) a.classList.remove("selected");
    tree.querySelector(`a[data-path="${CSS.escape(path)}"]`)?.classList.add("selected");
    const url = artifactUrl(artifactUri, path);
    const head = h("div.preview-head", h("b", title || path), " ", h("span.muted", fmtSize(size)), " ",
      h("a.download", { href: url, download: path.split("/").pop() }, "Download"));
    clear(preview).append(head);
    const content = h("div.preview-body");
    preview.append(content);
    try {
      if (IMAGE.test(path)) {
        content.append(h("img.artifact-image", { src: url, alt: path }));
      } else if (/\.html?$/i.test(path)) {
        const { text, truncated } = await api.preview(owner, path, PREVIEW_BYTES);
        // No scripts, no same-origin access: the report cannot touch the UI or call the API.
        content.append(h("iframe.artifact-html", { sandbox: "", srcdoc: text, title: path }), cutNote(truncated));
      } else if (/\.json$/i.test(path)) {
        const { text, truncated } = await api.preview(owner, path, PREVIEW_BYTES);
        let shown = text;
        if (!truncated) {
          try {
            shown = JSON.stringify(JSON.parse(text), null, 2);
          } catch {
            /* not valid JSON: show it as it is */
          }
        }
        content.append(h("pre.artifact-text.json", shown), cutNote(truncated));
      } else if (/\.(csv|tsv)$/i.test(path)) {
        const { text, truncated } = await api.preview(owner, path, CSV_BYTES);
        const body = /\.tsv$/i.test(path) ? text.replaceAll("\t", ",") : text;
        const rows = parseCsv(body, CSV_ROWS + 1);
        if (truncated && rows.length > 1) rows.pop(); // the last row may be cut mid-way
        const [header = [], ...rest] = rows;
        content.append(
          h("div.csv-wrap", h("table.grid.csv-table", h("thead", h("tr", header.map((c) => h("th", c)))),
            h("tbody", rest.map((r) => h("tr", r.map((c) => h("td", c))))))),
          h("p.muted", `${rest.length} row(s) shown${truncated || rows.length > CSV_ROWS ? " (preview capped; download for the whole file)" : ""}`),
        );
      } else if (/\.ya?ml$/i.test(path) || TEXT.test(path) || size === undefined || size < PREVIEW_BYTES) {
        const { text, truncated } = await api.preview(owner, path, PREVIEW_BYTES);
        if (/[\x00-\x08\x0e-\x1f]/.test(text.slice(0, 2000))) content.append(h("p.muted", "Binary file: no preview."));
        else content.append(h(`pre.artifact-text${path.endsWith("MLmodel") ? ".mlmodel" : ""}`, text), cutNote(truncated));
      } else {
        content.append(h("p.muted", "No preview for this file type."));
      }
    } catch (e) {
      content.append(h("p.error", e.message));
    }
  }

  // "" rather than null: Element.append(null) would print "null".
  const cutNote = (truncated) => (truncated ? h("p.muted", "Preview cut at 1 MB; download for the whole file.") : "");

  await folder("", tree, 0);
  // A logged model's root is the model folder: show its MLmodel straight away.
  const rootModel = tree.querySelector('a.file[data-path="MLmodel"]');
  if (owner.model_id && rootModel) show("MLmodel", undefined, "Model folder");
  return box;
}
