// The server's JSON endpoints: MLflow's REST API where it fits, tracklet's own under /api/tracklet.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let inFlight = 0;
function busy(delta) {
  inFlight += delta;
  const el = document.getElementById("busy");
  if (el) el.hidden = inFlight === 0;
}

async function request(method, path, { query, body, signal } = {}) {
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) qs.append(k, item);
    }
    url += "?" + qs.toString();
  }
  busy(1);
  try {
    const res = await fetch(url, {
      method,
      signal,
      headers: body !== undefined ? { "Content-Type": "application/json" } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = { message: text };
    }
    if (!res.ok) throw new ApiError(res.status, data.error_code || "HTTP_" + res.status, data.message || res.statusText);
    return data;
  } finally {
    busy(-1);
  }
}

/** The body of a GET as text; an answer other than 2xx throws an ApiError with the server's message. */
async function fetchText(url) {
  busy(1);
  try {
    const res = await fetch(url);
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new ApiError(res.status, data.error_code || "HTTP_" + res.status, data.message || res.statusText);
    }
    return await res.text();
  } finally {
    busy(-1);
  }
}

const ML = "/api/2.0/mlflow";
const ML3 = "/api/3.0/mlflow";
const TL = "/api/tracklet";

export const api = {
  get: (path, query, opts = {}) => request("GET", path, { query, ...opts }),
  post: (path, body, opts = {}) => request("POST", path, { body, ...opts }),

  /** The signed-in user on a server started with `--auth`; elsewhere the route does not exist (404). */
  currentUser: () => request("GET", `${ML}/users/current`),
  listUsers: () => request("GET", `${ML}/users/list`),
  createUser: (username, password) => request("POST", `${ML}/users/create`, { body: { username, password } }),
  setAdmin: (username, isAdmin) => request("PATCH", `${ML}/users/update-admin`, { body: { username, is_admin: isAdmin } }),
  /** `current` is needed (and checked) when users change their own password. */
  setPassword: (username, password, current) =>
    request("PATCH", `${ML}/users/update-password`, { body: { username, password, current_password: current || undefined } }),
  deleteUser: (username) => request("DELETE", `${ML}/users/delete`, { body: { username } }),
  /** The signed-in user's access tokens (metadata only); a new one's answer holds its secret, once. */
  listTokens: () => request("GET", `${TL}/tokens`),
  /** scope: "all" (what the user may do) or "read" (only what reads). */
  createToken: (name, expiresInDays, scope) =>
    request("POST", `${TL}/tokens`, { body: { name, expires_in_days: expiresInDays, scope } }),
  revokeToken: (id) => request("DELETE", `${TL}/tokens/${encodeURIComponent(id)}`),
  /** Every user's permission on an experiment or registered model, for those who MANAGE it. */
  listPermissions: (resourceType, resourceId) =>
    request("GET", `${TL}/permissions`, { query: { resource_type: resourceType, resource_id: resourceId } }),
  /** The signed-in user's own permission on an experiment or registered model: {permission, is_admin}. */
  myPermission: (resourceType, resourceId) =>
    request("GET", `${TL}/permissions/mine`, { query: { resource_type: resourceType, resource_id: resourceId } }),
  myPermissions: () => request("GET", `${TL}/permissions/mine/all`),
  grantPermission: (resourceType, resourceId, username, permission) =>
    request("POST", `${ML3}/users/permissions/grant`, { body: { resource_type: resourceType, resource_id: resourceId, username, permission } }),
  revokePermission: (resourceType, resourceId, username) =>
    request("POST", `${ML3}/users/permissions/revoke`, { body: { resource_type: resourceType, resource_id: resourceId, username } }),
  experiments: (viewType = "ACTIVE_ONLY") => request("GET", `${TL}/experiments`, { query: { view_type: viewType } }),
  getExperiment: (id) => request("GET", `${ML}/experiments/get`, { query: { experiment_id: id } }),
  createExperiment: (name) => request("POST", `${ML}/experiments/create`, { body: { name } }),
  renameExperiment: (id, name) => request("POST", `${ML}/experiments/update`, { body: { experiment_id: id, new_name: name } }),
  deleteExperiment: (id) => request("POST", `${ML}/experiments/delete`, { body: { experiment_id: id } }),
  restoreExperiment: (id) => request("POST", `${ML}/experiments/restore`, { body: { experiment_id: id } }),
  setExperimentTag: (id, key, value) => request("POST", `${ML}/experiments/set-experiment-tag`, { body: { experiment_id: id, key, value } }),
  deleteExperimentTag: (id, key) => request("POST", `${ML}/experiments/delete-experiment-tag`, { body: { experiment_id: id, key } }),

  table: (body, signal) => request("POST", `${TL}/runs/table`, { body, signal }),
  bulkGet: (runIds) => request("POST", `${TL}/runs/bulk-get`, { body: { run_ids: runIds } }),
  deleteRuns: (runIds) => request("POST", `${TL}/runs/delete`, { body: { run_ids: runIds } }),
  restoreRuns: (runIds) => request("POST", `${TL}/runs/restore`, { body: { run_ids: runIds } }),
  /** Every run of the experiments matching the filter but the excluded ones, in one request. */
  setStageMatching: (deleted, body) => request("POST", `${TL}/runs/${deleted ? "delete" : "restore"}`, { body }),
  history: (query, signal) => request("GET", `${TL}/metrics/history`, { query, signal }),

  getRun: (id) => request("GET", `${ML}/runs/get`, { query: { run_id: id } }),
  renameRun: (id, name) => request("POST", `${ML}/runs/update`, { body: { run_id: id, run_name: name } }),
  deleteRun: (id) => request("POST", `${ML}/runs/delete`, { body: { run_id: id } }),
  restoreRun: (id) => request("POST", `${ML}/runs/restore`, { body: { run_id: id } }),
  setTag: (runId, key, value) => request("POST", `${ML}/runs/set-tag`, { body: { run_id: runId, key, value } }),
  deleteTag: (runId, key) => request("POST", `${ML}/runs/delete-tag`, { body: { run_id: runId, key } }),
  listArtifacts: (runId, path) => request("GET", `${ML}/artifacts/list`, { query: { run_id: runId, path } }),
  /** A folder of a run's or logged model's artifacts: owner is {run_id} or {model_id}. */
  listOwnedArtifacts: (owner, path) => request("GET", `${TL}/artifacts/list`, { query: { ...owner, path } }),
  getModel: (modelId) => request("GET", `${ML}/logged-models/${encodeURIComponent(modelId)}`),
  /** A page of an experiment's logged models, newest first. */
  searchModels: (experimentId, filter, pageToken) =>
    request("POST", `${ML}/logged-models/search`, {
      body: {
        experiment_ids: [experimentId],
        filter: filter || undefined,
        order_by: [{ field_name: "creation_timestamp", ascending: false }],
        max_results: 100,
        page_token: pageToken || undefined,
      },
    }),

  // MLflow 3's evaluation datasets: tags travel as JSON text, records come a keyset page at a time.
  /** A page of the datasets linked to an experiment, newest first: {datasets?, next_page_token?}. */
  searchDatasets: (experimentId, { filter = "", pageToken, maxResults = 100 } = {}) =>
    request("POST", `${ML3}/datasets/search`, {
      body: { experiment_ids: [experimentId], filter_string: filter || undefined, max_results: maxResults, page_token: pageToken || undefined },
    }),
  getDataset: (datasetId) => request("GET", `${ML3}/datasets/${encodeURIComponent(datasetId)}`),
  datasetExperimentIds: (datasetId) => request("GET", `${ML3}/datasets/${encodeURIComponent(datasetId)}/experiment-ids`),
  /** One page of a dataset's records, in the order they were written: {records, next_page_token?}. */
  datasetRecords: (datasetId, { pageToken, maxResults = 50 } = {}) =>
    request("GET", `${ML3}/datasets/${encodeURIComponent(datasetId)}/records`, {
      query: { max_results: maxResults, page_token: pageToken || undefined },
    }),

  // MLflow 3's registered scorers of an experiment: each scorer's latest version, or all of one's versions.
  listScorers: (experimentId) => request("GET", `${ML3}/scorers/list`, { query: { experiment_id: experimentId } }),
  scorerVersions: (experimentId, name) => request("GET", `${ML3}/scorers/versions`, { query: { experiment_id: experimentId, name } }),

  // Webhooks of the model registry (admins only with --auth). A secret goes out, never comes back.
  /** A page of webhooks, newest first: {webhooks?, next_page_token?}. */
  listWebhooks: (pageToken) => request("GET", `${ML}/webhooks`, { query: { max_results: 100, page_token: pageToken || undefined } }),
  /** The events a webhook may subscribe to: {events: [{entity, action, sent}]}. */
  webhookEvents: () => request("GET", `${TL}/webhooks/events`),
  /** fields: {name, url, events: [{entity, action}], description, secret, status}. */
  createWebhook: (fields) => request("POST", `${ML}/webhooks`, { body: fields }),
  /** Only the fields given change; a secret of "" removes it. */
  updateWebhook: (id, fields) => request("PATCH", `${ML}/webhooks/${encodeURIComponent(id)}`, { body: fields }),
  deleteWebhook: (id) => request("DELETE", `${ML}/webhooks/${encodeURIComponent(id)}`),
  /** Send the example payload of `event` ({entity, action}; none: the webhook's first) once, now:
   * {result: {success, response_status?, response_body?, error_message?}}. */
  testWebhook: (id, event) => request("POST", `${ML}/webhooks/${encodeURIComponent(id)}/test`, { body: event ? { event } : {} }),

  // The model registry. Names travel in query strings and JSON bodies, never in paths.
  searchRegisteredModels: ({ filter = "", pageToken, maxResults = 100 } = {}) =>
    request("GET", `${ML}/registered-models/search`, {
      query: { filter: filter || undefined, page_token: pageToken || undefined, max_results: maxResults, order_by: "name ASC" },
    }),
  getRegisteredModel: (name) => request("GET", `${ML}/registered-models/get`, { query: { name } }),
  createRegisteredModel: (name, tags = []) => request("POST", `${ML}/registered-models/create`, { body: { name, tags } }),
  renameRegisteredModel: (name, newName) => request("POST", `${ML}/registered-models/rename`, { body: { name, new_name: newName } }),
  updateRegisteredModel: (name, description) => request("PATCH", `${ML}/registered-models/update`, { body: { name, description } }),
  deleteRegisteredModel: (name) => request("DELETE", `${ML}/registered-models/delete`, { body: { name } }),
  setRegisteredModelTag: (name, key, value) => request("POST", `${ML}/registered-models/set-tag`, { body: { name, key, value } }),
  deleteRegisteredModelTag: (name, key) => request("DELETE", `${ML}/registered-models/delete-tag`, { body: { name, key } }),
  setAlias: (name, alias, version) => request("POST", `${ML}/registered-models/alias`, { body: { name, alias, version } }),
  deleteAlias: (name, alias) => request("DELETE", `${ML}/registered-models/alias`, { body: { name, alias } }),
  /** A page of versions: of one model (newest first), or those registered from one run (`runId`);
   * `prompts`: of a prompt (searches leave prompts out unless asked for them). */
  searchModelVersions: (name, { runId, prompts = false, pageToken, maxResults = 100 } = {}) =>
    request("GET", `${ML}/model-versions/search`, {
      query: {
        filter: runId
          ? `run_id = '${runId}'`
          : `name = '${name.replaceAll("'", "''")}'${prompts ? " AND tags.`mlflow.prompt.is_prompt` = 'true'" : ""}`,
        order_by: "version_number DESC",
        page_token: pageToken || undefined,
        max_results: maxResults,
      },
    }),
  /** A new version of a prompt, as `mlflow.genai.register_prompt` writes it: the template and its type in
   * tags, the commit message as the description, MLflow's placeholder source. */
  createPromptVersion: (name, template, type, message) =>
    request("POST", `${ML}/model-versions/create`, {
      body: {
        name,
        source: "dummy-source",
        description: message || undefined,
        tags: [
          { key: "mlflow.prompt.is_prompt", value: "true" },
          { key: "mlflow.prompt.text", value: template },
          { key: "_mlflow_prompt_type", value: type },
        ],
      },
    }),
  /** A new version of `name` made from an MLflow 3 logged model (what `mlflow.register_model("models:/m-…")` sends). */
  registerLoggedModel: (name, info) =>
    request("POST", `${ML}/model-versions/create`, {
      body: { name, source: `models:/${info.model_id}`, model_id: info.model_id, run_id: info.source_run_id || undefined },
    }),
  getModelVersion: (name, version) => request("GET", `${ML}/model-versions/get`, { query: { name, version } }),
  updateModelVersion: (name, version, description) =>
    request("PATCH", `${ML}/model-versions/update`, { body: { name, version, description } }),
  transitionStage: (name, version, stage, archiveExisting) =>
    request("POST", `${ML}/model-versions/transition-stage`, { body: { name, version, stage, archive_existing_versions: archiveExisting } }),
  deleteModelVersion: (name, version) => request("DELETE", `${ML}/model-versions/delete`, { body: { name, version } }),
  setModelVersionTag: (name, version, key, value) =>
    request("POST", `${ML}/model-versions/set-tag`, { body: { name, version, key, value } }),
  deleteModelVersionTag: (name, version, key) =>
    request("DELETE", `${ML}/model-versions/delete-tag`, { body: { name, version, key } }),

  /** One page of an experiment's traces (MLflow 3 `traces/search`): {traces, next_page_token?}. */
  searchTraces: (experimentId, { filter = "", orderBy = [], maxResults = 100, pageToken } = {}, signal) =>
    request("POST", `${ML3}/traces/search`, {
      signal,
      body: {
        locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } }],
        filter: filter || undefined,
        order_by: orderBy,
        max_results: maxResults,
        page_token: pageToken || undefined,
      },
    }),
  getTrace: (traceId) => request("GET", `${ML3}/traces/${encodeURIComponent(traceId)}`),
  setTraceTag: (traceId, key, value) => request("PATCH", `${ML}/traces/${encodeURIComponent(traceId)}/tags`, { body: { key, value } }),
  deleteTraceTag: (traceId, key) => request("DELETE", `${ML}/traces/${encodeURIComponent(traceId)}/tags`, { body: { key } }),
  deleteTraces: (experimentId, traceIds) =>
    request("POST", `${ML}/traces/delete-traces`, { body: { experiment_id: experimentId, request_ids: traceIds } }),

  /** The text of a trace's `traces.json` (its spans), read through the artifact proxy. */
  traceSpans: (artifactLocation) => fetchText(artifactUrl(artifactLocation, "traces.json")),

  /** The spans of a trace received over OTLP (kept in the database), as the text of a `traces.json`. */
  /** The runs of a trace, whole: the one it was recorded in, then those it was linked to. */
  traceRuns: (traceId) => request("GET", `${TL}/traces/runs`, { query: { trace_id: traceId } }),
  storedTraceSpans: (traceId) => fetchText(`${TL}/traces/spans?${new URLSearchParams({ trace_id: traceId })}`),

  /** The first bytes of an artifact as text, with its full size and whether it was cut; owner is
   * {run_id} or {model_id}. */
  async preview(owner, path, maxBytes = 1_000_000) {
    const qs = new URLSearchParams({ ...owner, path, max_bytes: String(maxBytes) });
    busy(1);
    try {
      const res = await fetch(`${TL}/artifacts/preview?${qs}`);
      if (!res.ok) {
        const data = await res.json().catch(() => ({}));
        throw new ApiError(res.status, data.error_code, data.message || res.statusText);
      }
      return {
        text: await res.text(),
        size: Number(res.headers.get("X-Tracklet-Size")),
        truncated: res.headers.get("X-Tracklet-Truncated") === "true",
      };
    } finally {
      busy(-1);
    }
  },

  /** POST a table request and save the CSV the server streams back. */
  async downloadCsv(body, filename) {
    const res = await fetch(`${TL}/runs/table.csv`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new ApiError(res.status, data.error_code, data.message || res.statusText);
    }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  },
};

/** Artifact bytes through the proxy: `mlflow-artifacts:/1/<run>/artifacts` + path. */
export function artifactUrl(artifactUri, path) {
  const root = artifactUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/, "").replace(/^\/+|\/+$/g, "");
  const enc = [...root.split("/"), ...path.split("/")].map(encodeURIComponent).join("/");
  return `/api/2.0/mlflow-artifacts/artifacts/${enc}`;
}
