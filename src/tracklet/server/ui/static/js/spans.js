// A trace's spans as the MLflow client writes them to `traces.json`, read into one shape and a tree.
// Two layouts exist: MLflow 3's (`span_id`, `parent_span_id`, `start_time_unix_nano`,
// `status: {code, message}`) and MLflow 2's (`context.span_id`, `parent_id`, `start_time`,
// `status_code`); attribute values are JSON-encoded strings in both.

const INPUTS = "mlflow.spanInputs";
const OUTPUTS = "mlflow.spanOutputs";
const TYPE = "mlflow.spanType";
/** Attributes shown elsewhere on the page (or of no use to a reader). */
const SHOWN_ELSEWHERE = new Set([INPUTS, OUTPUTS, TYPE, "mlflow.traceRequestId"]);

/** A JSON-encoded attribute value decoded; a value that is not JSON is kept as it is. */
export function decode(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** "STATUS_CODE_ERROR", "ERROR" or OpenTelemetry's 2 → "ERROR"; likewise OK and UNSET. */
export function statusCode(code) {
  if (code === 1 || code === "1") return "OK";
  if (code === 2 || code === "2") return "ERROR";
  const text = String(code ?? "UNSET").toUpperCase().replace(/^STATUS_CODE_/, "");
  return text || "UNSET";
}

/** Nanoseconds as a number (JSON may carry them as numbers or, OpenTelemetry style, as strings);
 * beyond 2^53 they lose a few hundred ns, which no bar or duration shown here can tell. */
const nanos = (v) => (v === null || v === undefined || v === "" ? null : Number(v));

function normalize(raw, index) {
  const context = raw.context || {};
  const attributes = {};
  for (const [k, v] of Object.entries(raw.attributes || {})) attributes[k] = decode(v);
  const status = raw.status && typeof raw.status === "object" ? raw.status : { code: raw.status_code ?? raw.status, message: raw.status_message };
  const start = nanos(raw.start_time_unix_nano ?? raw.start_time);
  const end = nanos(raw.end_time_unix_nano ?? raw.end_time);
  return {
    id: String(raw.span_id ?? context.span_id ?? `#${index}`),
    parentId: raw.parent_span_id ?? raw.parent_id ?? null,
    name: raw.name || "(unnamed)",
    type: typeof attributes[TYPE] === "string" && attributes[TYPE] ? attributes[TYPE] : "UNKNOWN",
    start,
    end: end ?? start,
    open: end === null, // still running when the trace was written
    status: statusCode(status.code),
    statusMessage: status.message || "",
    inputs: attributes[INPUTS],
    outputs: attributes[OUTPUTS],
    hasInputs: INPUTS in attributes,
    hasOutputs: OUTPUTS in attributes,
    attributes: Object.fromEntries(Object.entries(attributes).filter(([k]) => !SHOWN_ELSEWHERE.has(k))),
    events: (raw.events || []).map((e) => ({
      name: e.name || "",
      time: nanos(e.time_unix_nano ?? e.timestamp),
      attributes: e.attributes || {}, // plain values, unlike a span's
    })),
    children: [],
    parent: null, // the parent span in the tree (null for a root)
    depth: 0,
  };
}

/**
 * Parse the text of `traces.json` into {roots, spans (depth-first, in tree order), start, end}
 * (times in ns). Children are ordered by start time; a span whose parent is missing is a root.
 * Throws an Error with a reader's message when the text is not a trace's spans.
 */
export function parseSpans(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`traces.json is not valid JSON (${e.message}).`);
  }
  const list = Array.isArray(data) ? data : data?.spans ?? data?.data?.spans;
  if (!Array.isArray(list)) throw new Error("traces.json holds no list of spans.");
  const spans = list.filter((s) => s && typeof s === "object").map(normalize);
  const byId = new Map(spans.map((s) => [s.id, s]));
  const roots = [];
  for (const s of spans) {
    const parent = s.parentId !== null && s.parentId !== "" ? byId.get(String(s.parentId)) : undefined;
    if (parent && parent !== s) parent.children.push(s);
    else roots.push(s);
  }
  const byStart = (a, b) => (a.start ?? 0) - (b.start ?? 0);
  const ordered = [];
  const seen = new Set();
  // Depth first with a stack of its own: a chain of thousands of nested spans must not overflow JS's.
  const walk = (root) => {
    const stack = [[root, 0, null]];
    while (stack.length) {
      const [s, depth, parent] = stack.pop();
      if (seen.has(s)) continue;
      seen.add(s);
      Object.assign(s, { depth, parent });
      ordered.push(s);
      s.children.sort(byStart);
      for (let i = s.children.length - 1; i >= 0; i--) stack.push([s.children[i], depth + 1, s]);
    }
  };
  roots.sort(byStart);
  for (const r of roots) walk(r);
  for (const s of spans) if (!seen.has(s)) (roots.push(s), walk(s)); // spans in a cycle of parent ids
  // Each span under the one parent it was reached from: a cycle is cut where it closes.
  for (const s of spans) s.children = s.children.filter((c) => c.parent === s);
  // A loop, not Math.min(...all): spreading a trace of 100,000 spans would overflow the stack.
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    if (s.start !== null && s.start < start) start = s.start;
    if (s.end !== null && s.end > end) end = s.end;
  }
  return { roots, spans: ordered, start: Number.isFinite(start) ? start : 0, end: Number.isFinite(end) ? end : 0 };
}

/** A duration in milliseconds for people: "0.42 ms", "58 ms", "1.25 s", "2m 5s". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

/** MLflow's `execution_duration` ("0.058s", a protobuf Duration in JSON) in milliseconds. */
export function durationMs(text) {
  if (text === null || text === undefined || text === "") return null;
  const m = /^(-?[\d.]+)s$/.exec(String(text));
  return m ? Number(m[1]) * 1000 : null;
}

/** A value as readable text: strings as they are (line breaks kept), anything else as indented JSON. */
export function pretty(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
