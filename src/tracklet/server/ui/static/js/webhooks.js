// Webhooks of the model registry (`#/webhooks`, MLflow 3's `webhooks` API): the list (name, URL, events,
// status, description, times), a form to create one or edit one, delete after a confirmation, and "Send
// test", which has the server send an event's example payload once and shows what the receiver answered.
// A secret is sent, never shown: the server does not give it back. With `--auth` webhooks are for admins
// (as in MLflow); others are told so instead of being shown a page that every request would refuse.
import { api } from "./api.js";
import { clear, fmtTime, h, toast } from "./dom.js";
import { jsonBlock } from "./jsonview.js";
import { signedIn } from "./permissions.js";
import { pager } from "./registry.js";

const STATUSES = ["ACTIVE", "DISABLED"];

/** `model_version.created`, as MLflow's client names an event (the wire has MODEL_VERSION / CREATED). */
export const eventName = (e) => `${String(e.entity).toLowerCase()}.${String(e.action).toLowerCase()}`;

/** A refusal said plainly: 403s carry the server's reason (not an admin, a read-only token). */
function failed(e, what) {
  toast(e.status === 403 ? `Not allowed to ${what}: ${e.message}` : e.message, "error");
}

/**
 * The form of a webhook: name, URL, events (a checkbox each, from the events the server accepts),
 * description, secret, status. `initial` is the webhook edited (null: a new one); `submit(fields)` gets
 * only what the request should carry (an edit leaves the secret alone unless one is typed or removed).
 */
function webhookForm(events, initial, submit, cancel) {
  const chosen = new Set((initial?.events || []).map(eventName));
  const name = h("input#webhook-name", { value: initial?.name || "", required: true, size: 30, placeholder: "ci-on-new-versions", autocomplete: "off" });
  const url = h("input#webhook-url", { type: "url", value: initial?.url || "", required: true, size: 48, placeholder: "https://ci.example.com/hooks/mlflow" });
  const description = h("textarea#webhook-description", { rows: 2, cols: 60 });
  description.value = initial?.description || "";
  const secret = h("input#webhook-secret", {
    type: "password", size: 30, autocomplete: "new-password",
    placeholder: initial ? "unchanged (type to replace)" : "optional: signs each delivery",
  });
  const clearSecret = initial && h("input#webhook-clear-secret", { type: "checkbox" });
  const status = h("select#webhook-status", STATUSES.map((s) => h("option", { value: s, selected: (initial?.status || "ACTIVE") === s }, s)));
  const byEntity = new Map();
  for (const e of events) {
    if (!byEntity.has(e.entity)) byEntity.set(e.entity, []);
    byEntity.get(e.entity).push(e);
  }
  const boxes = [];
  const fieldset = h("fieldset#webhook-events", { tabindex: -1 },
    h("legend", "Events"),
    h("div.event-grid", [...byEntity.values()].map((actions) => h("div.event-group",
      actions.map((e) => {
        const id = eventName(e);
        const box = h("input.webhook-event", { type: "checkbox", value: id, checked: chosen.has(id), dataset: { entity: e.entity, action: e.action } });
        boxes.push(box);
        return h("label.event-choice", box, " ", h("code", id), e.sent ? "" : h("span.muted", " (never sent by tracklet)"));
      })))));
  const onSubmit = async (ev) => {
    ev.preventDefault();
    const picked = boxes.filter((b) => b.checked).map((b) => ({ entity: b.dataset.entity, action: b.dataset.action }));
    if (!picked.length) {
      toast("Choose at least one event", "error");
      fieldset.focus();
      return;
    }
    const fields = { name: name.value.trim(), url: url.value.trim(), events: picked, status: status.value };
    if (initial) fields.description = description.value; // "" clears it
    else if (description.value.trim()) fields.description = description.value;
    if (secret.value) fields.secret = secret.value;
    else if (clearSecret?.checked) fields.secret = ""; // removes it
    await submit(fields);
  };
  return h("form.webhook-form#webhook-form", { on: { submit: onSubmit } },
    h("label", "Name ", name),
    h("label", "URL ", url),
    fieldset,
    h("label.block", "Description ", description),
    h("div.row",
      h("label", "Secret ", secret),
      clearSecret ? h("label", clearSecret, " remove the secret") : null,
      h("label", "Status ", status)),
    h("p.muted", "The secret signs each delivery (HMAC-SHA256, MLflow's X-MLflow-Signature header); it is never shown again."),
    h("div.row",
      h("button#save-webhook", { type: "submit" }, initial ? "Save" : "Create webhook"),
      cancel ? h("button#cancel-webhook", { type: "button", on: { click: cancel } }, "Cancel") : null),
  );
}

/** What a test delivery came to: the receiver's status and body, or why nothing was received. */
function testResult(webhook, event, result) {
  const ok = Boolean(result.success);
  const status = result.response_status ? `HTTP ${result.response_status}` : null;
  return h(`div.test-result.${ok ? "ok" : "failed"}`,
    h("div", h("strong", ok ? "Delivered" : "Failed"), ` — test of "${webhook.name}" with ${event}`,
      status ? [": ", h("code.test-status", status)] : ""),
    result.error_message ? h("div.test-error", result.error_message) : null,
    result.response_body ? jsonBlock(result.response_body, { clip: 300, label: "the receiver's answer" }) : null);
}

/** `#/webhooks` */
export async function webhooksPage(root, ctx) {
  const user = await signedIn();
  if (!ctx.alive()) return;
  root.append(h("div.toolbar", h("h1", "Webhooks"),
    h("span.muted", "The model registry's events (new versions, tags, aliases, prompts) sent to a URL.")));
  if (user && !user.is_admin) {
    root.append(h("p.note#webhooks-admins-only",
      `Webhooks are for admins on this server, and ${user.username} is not one: ask an admin to add or change them.`));
    return;
  }
  let events;
  try {
    events = (await api.webhookEvents()).events;
  } catch (e) {
    if (ctx.alive()) root.append(h("p.error", e.message));
    return;
  }
  const editor = h("div#webhook-editor");
  const result = h("div#webhook-test-result", { role: "status", "aria-live": "polite" });
  const list = h("div#webhook-list");
  const tbody = h("tbody");
  const pages = pager((token) => load(token), "more-webhooks");
  const newOne = () => {
    clear(editor).append(h("section.panel", h("h2", "New webhook"), webhookForm(events, null, async (fields) => {
      try {
        const made = (await api.createWebhook(fields)).webhook;
        toast(`Created webhook ${made.name}`);
        clear(editor);
        await load(null);
      } catch (e) {
        failed(e, "create webhooks");
      }
    }, () => clear(editor))));
    editor.querySelector("#webhook-name").focus();
  };
  root.append(h("div.toolbar.actions", h("button#new-webhook", { type: "button", on: { click: newOne } }, "New webhook")), editor, result, list);

  function edit(w) {
    clear(editor).append(h("section.panel", h("h2", `Edit webhook ${w.name}`), webhookForm(events, w, async (fields) => {
      try {
        const saved = (await api.updateWebhook(w.webhook_id, fields)).webhook;
        toast(`Saved webhook ${saved.name}`);
        clear(editor);
        await load(null);
      } catch (e) {
        failed(e, "change webhooks");
      }
    }, () => clear(editor))));
    editor.querySelector("#webhook-name").focus();
  }

  async function remove(w) {
    if (!confirm(`Delete the webhook "${w.name}"? Its URL gets no more events.`)) return;
    try {
      await api.deleteWebhook(w.webhook_id);
      toast(`Deleted webhook ${w.name}`);
      await load(null);
    } catch (e) {
      failed(e, "delete webhooks");
    }
  }

  async function test(w, event, button) {
    button.disabled = true;
    clear(result).append(h("p.muted", `Sending a test of "${w.name}" with ${eventName(event)}…`));
    try {
      const answer = (await api.testWebhook(w.webhook_id, event)).result || {};
      if (ctx.alive()) clear(result).append(testResult(w, eventName(event), answer));
    } catch (e) {
      clear(result);
      failed(e, "test webhooks");
    } finally {
      button.disabled = false;
    }
  }

  function row(w) {
    const hookEvents = w.events || [];
    const which = h("select.test-event", { "aria-label": `Event to test webhook ${w.name} with` },
      hookEvents.map((e, i) => h("option", { value: String(i) }, eventName(e))));
    const send = h("button.test-webhook", { type: "button", "aria-label": `Send a test of webhook ${w.name}` }, "Send test");
    send.addEventListener("click", () => test(w, hookEvents[Number(which.value)] || hookEvents[0], send));
    const active = w.status === "ACTIVE";
    return h("tr", { dataset: { webhookId: w.webhook_id, webhook: w.name } },
      h("td.name", w.name),
      h("td.url", h("code", w.url)),
      h("td.events", hookEvents.map((e) => h("span.tag-chip.event", eventName(e)))),
      h("td", h(`span.status.webhook-status${active ? ".finished" : ""}`, w.status)),
      h("td.snippet", { title: w.description || "" }, w.description || ""),
      h("td.nowrap", fmtTime(w.creation_timestamp)),
      h("td.nowrap", fmtTime(w.last_updated_timestamp)),
      h("td.actions",
        hookEvents.length > 1 ? which : null, send,
        h("button.edit-webhook", { type: "button", "aria-label": `Edit webhook ${w.name}`, on: { click: () => edit(w) } }, "Edit"),
        h("button.danger.delete-webhook", { type: "button", "aria-label": `Delete webhook ${w.name}`, on: { click: () => remove(w) } }, "Delete")),
    );
  }

  async function load(token) {
    let page;
    try {
      page = await api.listWebhooks(token);
    } catch (e) {
      if (ctx.alive()) clear(list).append(h("p.error", e.message));
      return;
    }
    if (!ctx.alive()) return;
    const hooks = page.webhooks || [];
    if (!token) {
      clear(list);
      clear(tbody);
      if (!hooks.length) {
        list.append(h("p.muted#no-webhooks", "No webhooks yet."));
        return;
      }
      list.append(h("table.grid#webhooks",
        h("thead", h("tr", ["Name", "URL", "Events", "Status", "Description", "Created", "Updated", ""].map((x) => h("th", x)))),
        tbody), pages.more);
    }
    tbody.append(...hooks.map(row));
    pages.next(page.next_page_token);
  }

  await load(null);
}
