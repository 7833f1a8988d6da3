// Users and permissions on a server started with `--auth`: who may do what with an experiment or a
// registered model (shown to, and changed by, those who MANAGE it), and the users page (admins add,
// promote, demote and delete users and set their passwords; everyone changes their own password and
// manages their own access tokens, `tokens.js`).
// On a server without users none of this shows. `allowed` tells the pages which of their controls
// (edit, delete, permissions) the signed-in user may use, so that they show only those.
import { api } from "./api.js";
import { clear, h, readOrSay, toast } from "./dom.js";
import { kvTable } from "./editors.js";
import { tokensPanel } from "./tokens.js";

const LEVELS = ["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"];

let me = null;
/** The signed-in user ({username, is_admin}), or null on a server without `--auth`; asked once a page load. */
export function signedIn() {
  me ??= api.currentUser().then((r) => r.user, () => null);
  return me;
}

const RANKS = { NO_PERMISSIONS: 0, READ: 1, USE: 2, EDIT: 3, MANAGE: 4 };
const EVERYTHING = { edit: true, manage: true };

/**
 * What the signed-in user may do with an experiment or registered model ("experiment" /
 * "registered_model"), as the server's rules judge it: `edit` to change it (rename, tags, descriptions,
 * aliases, stages, new versions; a run or trace of an experiment too), `manage` to also delete, restore
 * and grant permissions. One request; none on a server without users, where everything is allowed. When
 * the server cannot say, everything shows, and the server refuses what the user may not do.
 */
export async function allowed(resourceType, resourceId) {
  if (!(await signedIn())) return EVERYTHING;
  try {
    return mayDo((await api.myPermission(resourceType, resourceId)).permission);
  } catch {
    return EVERYTHING;
  }
}

/**
 * `allowed` for every experiment and registered model at once, for lists: one request, then a function of
 * (resourceType, resourceId) giving `{edit, manage}` (a grant of the user's, else the level of all others).
 */
export async function allowedEverywhere() {
  if (!(await signedIn())) return () => EVERYTHING;
  try {
    const mine = await api.myPermissions();
    const grants = { experiment: mine.experiments ?? {}, registered_model: mine.registered_models ?? {} };
    return (resourceType, resourceId) => mayDo(grants[resourceType][resourceId] ?? mine.default_permission);
  } catch {
    return () => EVERYTHING;
  }
}

function mayDo(permission) {
  const rank = RANKS[permission] ?? 0;
  return { edit: rank >= RANKS.EDIT, manage: rank >= RANKS.MANAGE };
}

/** Run a change, say so, then show the server's state again (also after a refusal). */
async function attempt(change, done, reload) {
  try {
    await change();
    toast(done);
  } catch (e) {
    toast(e.message, "error");
  }
  await reload();
}

function levelSelect(value, label, id) {
  return h(`select${id ? "#" + id : ""}`, { "aria-label": label },
    LEVELS.map((level) => h("option", { value: level, selected: level === value }, level)));
}

/** The permissions of one experiment or registered model ("experiment" / "registered_model"), or null
 * on a server without users. */
export async function permissionsPanel(ctx, resourceType, resourceId) {
  if (!(await signedIn())) return null;
  const box = h("div#permissions");
  const load = async () => {
    let listed;
    try {
      listed = await api.listPermissions(resourceType, resourceId);
    } catch (e) {
      if (ctx.alive()) {
        clear(box).append(h("p.muted", e.status === 403 ? "Only users who MANAGE it see and change who may use it." : e.message));
      }
      return;
    }
    if (!ctx.alive()) return;
    const rows = listed.permissions.map(({ username, permission }) => {
      const select = levelSelect(permission, `Permission of ${username}`);
      select.addEventListener("change", () => attempt(
        () => api.grantPermission(resourceType, resourceId, username, select.value), `${username}: ${select.value}`, load));
      const revoke = h("button.danger.revoke", {
        "aria-label": `Revoke the permission of ${username}`,
        on: { click: () => attempt(() => api.revokePermission(resourceType, resourceId, username), `${username}: revoked`, load) },
      }, "Revoke");
      return h("tr", { dataset: { user: username } }, h("td", username), h("td", select), h("td.actions", revoke));
    });
    const userIn = h("input#grant-user", { placeholder: "user name", size: 20, "aria-label": "User to grant a permission to" });
    const levelIn = levelSelect("READ", "Permission to grant", "grant-level");
    const grant = (ev) => {
      ev.preventDefault();
      const username = userIn.value.trim();
      if (!username) return;
      attempt(() => api.grantPermission(resourceType, resourceId, username, levelIn.value), `${username}: ${levelIn.value}`, load);
    };
    clear(box).append(
      kvTable("permissions-table", rows, ["User", "Permission", ""]),
      h("p.muted", `Everyone else: ${listed.default_permission} (the server's default). Admins may do everything.`),
      h("form.inline#grant-permission", { on: { submit: grant } }, userIn, levelIn, h("button", { type: "submit" }, "Grant")),
    );
  };
  await load();
  return h("section.permissions", h("h2", "Permissions"), box);
}

/** `#/experiments/<id>/permissions`. */
export async function experimentPermissionsPage(root, ctx, experimentId) {
  const experiment = await readOrSay(root, api.getExperiment(experimentId).then((r) => r.experiment));
  if (!experiment) return;
  const panel = await permissionsPanel(ctx, "experiment", experimentId);
  if (!ctx.alive()) return;
  root.append(
    h("div.toolbar", h("h1", h("a", { href: "#/" }, "Experiments"), " / ",
      h("a", { href: `#/experiments/${experimentId}` }, experiment.name), " / Permissions")),
    panel || h("p.muted", "This server has no users: start it with --auth to give each user their own permissions."),
  );
}

/** `#/users`: the signed-in user's password and access tokens; for admins, every user. */
export async function usersPage(root, ctx) {
  const user = await signedIn();
  if (!ctx.alive()) return;
  if (!user) {
    root.append(h("p.muted", "This server has no users: start it with --auth to have them."));
    return;
  }
  const current = h("input#current-password", { type: "password", autocomplete: "current-password", "aria-label": "Current password" });
  const fresh = h("input#new-password", { type: "password", autocomplete: "new-password", "aria-label": "New password" });
  const changeOwn = async (ev) => {
    ev.preventDefault();
    try {
      await api.setPassword(user.username, fresh.value, current.value);
      current.value = fresh.value = "";
      toast("Password changed: the browser asks for it at the next sign-in");
    } catch (e) {
      toast(e.message, "error");
    }
  };
  const list = h("div#users");
  root.append(
    h("div.toolbar", h("h1", "Users"), h("span.muted", `Signed in as ${user.username}${user.is_admin ? " (admin)" : ""}`)),
    h("h2", "Your password"),
    h("form.inline#own-password", { on: { submit: changeOwn } },
      h("label", "Current ", current), h("label", "New ", fresh), h("button", { type: "submit" }, "Change my password")),
    h("h2", "Your access tokens"),
    h("p.muted", "For jobs that should not hold your password: they act as you, with your permissions."),
    tokensPanel(ctx),
  );
  if (!user.is_admin) return;
  root.append(h("h2", "Users"), list);

  const load = async () => {
    let users;
    try {
      users = (await api.listUsers()).users;
    } catch (e) {
      clear(list).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive()) return;
    const rows = users.map((u) => {
      const admin = h("input.admin", { type: "checkbox", checked: u.is_admin, "aria-label": `${u.username} is an admin` });
      admin.addEventListener("change", () => attempt(() => api.setAdmin(u.username, admin.checked),
        `${u.username} ${admin.checked ? "is" : "is no longer"} an admin`, load));
      const password = h("input.password", { type: "password", size: 14, autocomplete: "new-password", "aria-label": `New password of ${u.username}` });
      const setPassword = (ev) => {
        ev.preventDefault();
        if (password.value) attempt(() => api.setPassword(u.username, password.value), `Password of ${u.username} set`, load);
      };
      const remove = h("button.danger.delete-user", { "aria-label": `Delete user ${u.username}`, on: { click: () => {
        if (confirm(`Delete user "${u.username}" and their permissions?`)) attempt(() => api.deleteUser(u.username), `Deleted ${u.username}`, load);
      } } }, "Delete");
      return h("tr", { dataset: { user: u.username } }, h("td", u.username), h("td", admin),
        h("td", h("form.inline.set-password", { on: { submit: setPassword } }, password, h("button", { type: "submit" }, "Set password"))),
        h("td.actions", remove));
    });
    const name = h("input#new-user-name", { placeholder: "user name", size: 18, "aria-label": "New user name" });
    const secret = h("input#new-user-password", { type: "password", placeholder: "password", size: 14, autocomplete: "new-password", "aria-label": "New user's password" });
    const create = (ev) => {
      ev.preventDefault();
      attempt(() => api.createUser(name.value.trim(), secret.value), `Created ${name.value.trim()}`, load);
    };
    clear(list).append(
      kvTable("users-table", rows, ["User", "Admin", "Password", ""]),
      h("form.inline#create-user", { on: { submit: create } }, name, secret, h("button", { type: "submit" }, "Add user")),
    );
  };
  await load();
}
