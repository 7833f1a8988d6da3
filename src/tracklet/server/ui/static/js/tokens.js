// The signed-in user's access tokens, on the users page: secrets for jobs that should not hold the
// user's password (MLflow's clients send one from MLFLOW_TRACKING_TOKEN). A new token's secret is shown
// once, here; the server keeps only its hash. Revoking one takes effect on the job's next request.
import { api } from "./api.js";
import { clear, fmtTime, h, toast } from "./dom.js";
import { kvTable } from "./editors.js";

/** The panel: the user's tokens (name, scope, created, expires, Revoke) and a form for a new one. */
export function tokensPanel(ctx) {
  const panel = h("div#tokens");
  const shown = h("div#new-token");
  const load = async () => {
    let tokens;
    try {
      tokens = (await api.listTokens()).tokens;
    } catch (e) {
      clear(panel).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive()) return;
    const now = Date.now();
    const rows = tokens.map((t) => {
      const expired = t.expiration_time !== null && t.expiration_time <= now;
      const revoke = h("button.danger.revoke-token", { "aria-label": `Revoke token ${t.name}`, on: { click: async () => {
        if (!confirm(`Revoke the token "${t.name}"? Jobs using it are refused from their next request.`)) return;
        try {
          await api.revokeToken(t.id);
          toast(`Revoked ${t.name}`);
        } catch (e) {
          toast(e.message, "error");
        }
        await load();
      } } }, "Revoke");
      return h("tr", { dataset: { token: t.id } }, h("td", t.name),
        h("td.scope", t.scope === "read" ? "read only" : "all"), h("td", fmtTime(t.creation_time)),
        h("td", t.expiration_time === null ? "never" : [fmtTime(t.expiration_time), expired ? h("span.muted", " (expired)") : ""]),
        h("td.last-used", t.last_used_time === null ? "never" : fmtTime(t.last_used_time)),
        h("td.actions", revoke));
    });
    const name = h("input#new-token-name", { placeholder: "what it is for", size: 22, "aria-label": "New token's name" });
    const days = h("input#new-token-days", { type: "number", min: 1, max: 3650, placeholder: "never", size: 6, "aria-label": "Expires in days" });
    const scope = h("select#new-token-scope", { "aria-label": "What the token may do" },
      h("option", { value: "all" }, "all you may do"), h("option", { value: "read" }, "read only"));
    const create = async (ev) => {
      ev.preventDefault();
      try {
        const made = await api.createToken(name.value.trim(), days.value ? Number(days.value) : undefined, scope.value);
        const secret = h("code#token-secret", made.secret);
        const copy = h("button", { type: "button", on: { click: () => navigator.clipboard?.writeText(made.secret).then(
          () => toast("Copied"), () => toast("Copy it by hand", "error")) } }, "Copy");
        clear(shown).append(h("div.note",
          h("div", `New token "${made.token.name}": copy it now, it is not shown again. `,
            "Jobs send it as MLFLOW_TRACKING_TOKEN (or as the password of your user name)."),
          h("div", secret, " ", copy)));
        toast(`Created ${made.token.name}`);
      } catch (e) {
        toast(e.message, "error");
      }
      await load();
    };
    clear(panel).append(
      kvTable("tokens-table", rows, ["Name", "May", "Created", "Expires", "Last used", ""]),
      h("form.inline#create-token", { on: { submit: create } }, name,
        h("label", "may ", scope), h("label", "expires in days ", days), h("button", { type: "submit" }, "Create token")),
    );
  };
  load();
  return h("div", shown, panel);
}
