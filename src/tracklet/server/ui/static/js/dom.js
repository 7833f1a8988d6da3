// Small DOM and formatting helpers shared by every page.

/** h("div.cls#id", {attrs, on: {click}}, ...children) → HTMLElement. */
export function h(tag, attrs, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const el = document.createElement(name || "div");
  for (const part of rest) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === 0) return "";
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtDuration(start, end) {
  if (!start) return "";
  const ms = (end || Date.now()) - start;
  if (ms < 0) return "";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${(s / 86400).toFixed(1)}d`;
}

export function fmtNum(v) {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** A color per series index, spread around the hue circle. */
export function color(i) {
  return `hsl(${(i * 137.508) % 360}, 65%, 45%)`;
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** Quote a param/metric/tag key for the search grammar when it is not a plain identifier. */
export function quoteKey(key) {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) && !key.includes("..") ? key : "`" + key + "`";
}

/** A row of tab links (`#/…` hrefs), the current one marked for the eye and for screen readers. */
export function tabNav(label, tabs, active) {
  return h("nav.tabs", { "aria-label": label }, tabs.map((t) =>
    h(`a.tab${t.id === active ? ".active" : ""}#tab-${t.id}`, { href: t.href, "aria-current": t.id === active ? "page" : null }, t.label)));
}

/** What `promise` resolves to, or null once its error is shown in `root`: the subject of a page that
 * cannot be read (a wrong id, a permission missing) leaves the page saying why. */
export async function readOrSay(root, promise) {
  try {
    return await promise;
  } catch (e) {
    root.append(h("p.error", e.message));
    return null;
  }
}

/**
 * Loads of a list that a new search restarts: `start(fresh)` before the request (a fresh load, not a
 * next page, supersedes those before it), `current(turn)` after each await. A superseded answer that
 * arrives late is dropped instead of mixing its rows into the newer list.
 */
export function reloads() {
  let latest = 0;
  return { start: (fresh) => (fresh ? ++latest : latest), current: (turn) => turn === latest };
}
