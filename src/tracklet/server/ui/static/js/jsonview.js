// JSON values shown readably: pretty-printed (a string as it is), clipped when long with a button that
// shows the whole value and folds it again. Used by the dataset records and the registered scorers.
import { h } from "./dom.js";

/**
 * JSON text as Python's `json.dumps` writes it, which MLflow's stores use: NaN and ±Infinity (what pandas
 * writes for a missing value) are not JSON, so outside strings they are read as null.
 */
export function parseLoose(text) {
  try {
    return JSON.parse(text);
  } catch {
    let out = "";
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        out += c;
        if (c === "\\") out += text[++i] ?? "";
        else if (c === '"') inString = false;
      } else if (c === '"') {
        inString = true;
        out += c;
      } else if (text.startsWith("NaN", i)) {
        out += "null";
        i += 2;
      } else if (text.startsWith("-Infinity", i)) {
        out += "null";
        i += 8;
      } else if (text.startsWith("Infinity", i)) {
        out += "null";
        i += 7;
      } else out += c;
    }
    return JSON.parse(out);
  }
}

const ONE_LINE = 72; // a value whose JSON fits in this many characters stays on one line

/** A value as text to read: a string as it is, a short value as one line of JSON, a longer one indented. */
export function prettyValue(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  const flat = oneLine(value);
  return flat.length <= ONE_LINE ? flat : JSON.stringify(value, null, 2);
}

/** JSON on one line with a space after each colon and comma, as people write it. */
function oneLine(value) {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A value in a `pre`, its first `clip` characters when it is longer, with a "Show all" button (the
 * whole value, in place) that turns into "Show less". `label` names the value for screen readers.
 */
export function jsonBlock(value, { clip = 400, label = "value", cls = "" } = {}) {
  const text = prettyValue(value);
  const pre = h(`pre.json-value${cls}`);
  if (text.length <= clip) {
    pre.textContent = text;
    return pre;
  }
  const cut = text.slice(0, clip).trimEnd() + " …";
  pre.textContent = cut;
  const toggle = h("button.show-all", {
    type: "button",
    "aria-expanded": "false",
    "aria-label": `Show all of ${label} (${text.length.toLocaleString()} characters)`,
  }, `Show all (${text.length.toLocaleString()} characters)`);
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    pre.textContent = open ? text : cut;
    pre.classList.toggle("whole", open);
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Show less" : `Show all (${text.length.toLocaleString()} characters)`;
    toggle.setAttribute("aria-label", open ? `Show less of ${label}` : `Show all of ${label} (${text.length.toLocaleString()} characters)`);
  });
  return h("div.json-clip", pre, toggle);
}
