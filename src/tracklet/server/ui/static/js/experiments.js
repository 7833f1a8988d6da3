// Experiments: name, number of runs, last update; create, rename, delete and restore.
import { api } from "./api.js";
import { clear, fmtTime, h, toast } from "./dom.js";
import { allowedEverywhere, signedIn } from "./permissions.js";

export async function experimentsPage(root, ctx) {
  const showDeleted = ctx.params.get("deleted") === "1";
  const withUsers = Boolean(await signedIn()); // then each experiment has its permissions page
  const can = await allowedEverywhere(); // a row shows the controls of what the user may do
  const list = h("div");
  // Names filtered as you type, in the page: the list holds every experiment already.
  const find = h("input#find-experiment", { type: "search", placeholder: "Find by name…", size: 24, "aria-label": "Find experiments by name" });
  let shown = [];
  find.addEventListener("input", () => render());
  const nameInput = h("input#new-experiment-name", { placeholder: "New experiment name", size: 32, "aria-label": "New experiment name" });
  const create = async (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    try {
      const { experiment_id } = await api.createExperiment(name);
      toast(`Created experiment ${name}`);
      nameInput.value = "";
      location.hash = `#/experiments/${experiment_id}`;
    } catch (e) {
      toast(e.message, "error");
    }
  };
  root.append(
    h("div.toolbar",
      h("h1", showDeleted ? "Deleted experiments" : "Experiments"),
      find,
      h("form.inline", { on: { submit: create } }, nameInput, h("button#create-experiment", { type: "submit" }, "Create")),
      h("a.button", { href: showDeleted ? "#/" : "#/?deleted=1" }, showDeleted ? "Show active" : "Show deleted"),
    ),
    list,
  );

  async function load() {
    const { experiments } = await api.experiments(showDeleted ? "DELETED_ONLY" : "ACTIVE_ONLY");
    if (!ctx.alive()) return;
    shown = experiments;
    render();
  }

  function render() {
    clear(list);
    if (!shown.length) {
      list.append(h("p.muted", showDeleted ? "No deleted experiments." : "No experiments yet."));
      return;
    }
    const needle = find.value.trim().toLowerCase();
    const matching = needle ? shown.filter((e) => e.name.toLowerCase().includes(needle)) : shown;
    list.append(
      matching.length
        ? h("table.grid#experiments",
          h("thead", h("tr", h("th", "Name"), h("th.num", "Runs"), h("th", "Last update"), h("th", "Created"), h("th", ""))),
          h("tbody", matching.map((e) => row(e))))
        : h("p.muted#no-experiment-matches", `No experiment name contains "${find.value.trim()}".`),
    );
  }

  function row(e) {
    const nameCell = h("td.name", showDeleted ? e.name : h("a", { href: `#/experiments/${e.experiment_id}` }, e.name));
    const rename = () => {
      const input = h("input.rename", { value: e.name, size: 30, "aria-label": `New name of experiment ${e.name}` });
      const save = async (ev) => {
        ev.preventDefault();
        try {
          await api.renameExperiment(e.experiment_id, input.value.trim());
          toast("Renamed");
          load();
        } catch (err) {
          toast(err.message, "error");
        }
      };
      clear(nameCell).append(h("form.inline", { on: { submit: save } }, input, h("button", { type: "submit" }, "Save")));
      input.focus();
    };
    const act = (fn, msg) => async () => {
      try {
        await fn(e.experiment_id);
        toast(msg);
        load();
      } catch (err) {
        toast(err.message, "error");
      }
    };
    const may = can("experiment", e.experiment_id);
    const actions = showDeleted
      ? [may.manage && h("button.restore", { "aria-label": `Restore experiment ${e.name}`, on: { click: act(api.restoreExperiment, `Restored ${e.name}`) } }, "Restore")]
      : [
          may.edit && h("button.rename", { "aria-label": `Rename experiment ${e.name}`, on: { click: rename } }, "Rename"),
          withUsers && may.manage && h("a.button.permissions", { href: `#/experiments/${e.experiment_id}/permissions`, "aria-label": `Permissions of experiment ${e.name}` }, "Permissions"),
          may.manage && h("button.danger.delete", {
            "aria-label": `Delete experiment ${e.name}`,
            on: { click: () => confirm(`Delete experiment "${e.name}"?`) && act(api.deleteExperiment, `Deleted ${e.name}`)() },
          }, "Delete"),
        ];
    return h("tr", { dataset: { experimentId: e.experiment_id } },
      nameCell,
      h("td.num", String(e.run_count)),
      h("td", fmtTime(e.last_update_time)),
      h("td", fmtTime(e.creation_time)),
      h("td.actions", actions),
    );
  }

  await load();
}
