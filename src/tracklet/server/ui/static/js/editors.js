// Editors shared by the pages of runs and of the model registry: a description edited in place and a
// table of tags (edit, delete, add). Each takes the calls that save to the server and keeps showing
// what the server accepted; a refusal is shown as a toast and changes nothing on the page. Without the
// calls that save (a user who may only read) they show the text and the tags, and no controls.
import { clear, h, toast } from "./dom.js";

/** A table with a head row, or "None." when there are no rows. */
export function kvTable(id, rows, headers = ["Name", "Value"]) {
  if (!rows.length) return h("p.muted", "None.");
  return h(`table.grid.kv#${id}`, h("thead", h("tr", headers.map((x) => h("th", x)))), h("tbody", rows));
}

/** A description shown as text, edited in a textarea; `save(text)` resolves once the server has it
 * (no `save`: shown only). */
export function descriptionEditor(initial, save) {
  let text = initial || "";
  const shown = () => text || h("span.muted", "No description.");
  const view = h("div.note#description", shown());
  const box = h("div.description", h("h2", "Description"), view);
  if (!save) return box;
  const edit = h("button#edit-description", { on: { click: () => {
    const area = h("textarea#description-input", { rows: 6, cols: 80, "aria-label": "Description" });
    area.value = text;
    const done = () => {
      clear(view).append(shown());
      edit.hidden = false;
    };
    const saveBtn = h("button#save-description", { on: { click: async () => {
      try {
        await save(area.value);
        text = area.value;
        toast("Description saved");
        done();
      } catch (e) {
        toast(e.message, "error");
      }
    } } }, "Save");
    clear(view).append(area, h("div", saveBtn, h("button", { on: { click: done } }, "Cancel")));
    edit.hidden = true;
    area.focus();
  } } }, "Edit");
  box.append(edit);
  return box;
}

/**
 * Tags as a table with Edit and Delete per tag and a form to add one. `tags` is {key: value} and is
 * kept up to date; `save(key, value)` and `remove(key)` call the server (none: the tags are shown
 * only); keys in `hidden` are not shown (a run's description is a tag).
 */
export function tagEditor(tags, { save, remove, hidden = [] }) {
  const wrap = h("div#tags");
  const attempt = async (fn) => {
    try {
      await fn();
      render();
    } catch (e) {
      toast(e.message, "error");
    }
  };
  function render() {
    const keys = Object.keys(tags).filter((k) => !hidden.includes(k)).sort();
    if (!save) {
      clear(wrap).append(kvTable("tags-table", keys.map((k) => h("tr", { dataset: { tag: k } }, h("td", k), h("td", tags[k]))), ["Key", "Value"]));
      return;
    }
    const rows = keys.map((k) => {
      const valueCell = h("td", tags[k]);
      const editBtn = h("button.edit-tag", { "aria-label": `Edit tag ${k}`, on: { click: () => {
        const input = h("input.tag-value", { value: tags[k], size: 40, "aria-label": `Value of tag ${k}` });
        const submit = (ev) => {
          ev.preventDefault();
          attempt(async () => {
            await save(k, input.value);
            tags[k] = input.value;
          });
        };
        clear(valueCell).append(h("form.inline", { on: { submit } }, input, h("button", { type: "submit" }, "Save")));
        input.focus();
      } } }, "Edit");
      const delBtn = h("button.danger.delete-tag", { "aria-label": `Delete tag ${k}`, on: { click: () => attempt(async () => {
        await remove(k);
        delete tags[k];
      }) } }, "Delete");
      return h("tr", { dataset: { tag: k } }, h("td", k), valueCell, h("td.actions", editBtn, delBtn));
    });
    const keyIn = h("input#new-tag-key", { placeholder: "key", "aria-label": "New tag key" });
    const valIn = h("input#new-tag-value", { placeholder: "value", "aria-label": "New tag value" });
    const add = (ev) => {
      ev.preventDefault();
      const key = keyIn.value.trim();
      if (!key) return;
      attempt(async () => {
        await save(key, valIn.value);
        tags[key] = valIn.value;
      });
    };
    clear(wrap).append(
      kvTable("tags-table", rows, ["Key", "Value", ""]),
      h("form.inline#add-tag", { on: { submit: add } }, keyIn, valIn, h("button", { type: "submit" }, "Add tag")),
    );
  }
  render();
  return wrap;
}
