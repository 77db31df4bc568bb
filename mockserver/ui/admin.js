// The inspector: recent requests (live), fault rules, webhooks, stored events, licenses and client keys,
// from the admin API.
"use strict";

const TOKEN_KEY = "eventdouble-admin-token";
const $ = (selector) => document.querySelector(selector);

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function get(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) {
    $("#token-box").hidden = false;
    throw new Error("the admin token is needed");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function fill(table, rows, cells, rowClass) {
  const body = document.createElement("tbody");
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (rowClass) tr.className = rowClass(row);
    for (const [name, value] of cells(row)) {
      const td = document.createElement("td");
      td.className = name;
      td.textContent = value === null || value === undefined ? "" : String(value);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $(table).replaceChild(body, $(table).tBodies[0]);
}

function redact(key) {
  return key ? `${key.slice(0, 4)}…` : "";
}

async function refreshRequests() {
  const query = new URLSearchParams({ limit: "200" });
  const api = $("#api-filter").value;
  const status = $("#status-filter").value;
  if (api) query.set("api", api);
  if (status && status !== "refused") query.set("status", status);
  let entries = (await get(`/__admin/journal?${query}`)).reverse();
  entries = entries.filter((e) => !e.path.startsWith("/__admin/ui") && !(e.path.startsWith("/__admin/") && e.method === "GET" && e.status < 400));
  if (status === "refused") entries = entries.filter((e) => e.status >= 400 || e.status === 0);
  fill("#requests", entries, (e) => [
    ["time", e.time], ["method", e.method], ["path", e.path], ["status", e.status], ["api", e.api],
    ["reason", e.reason], ["fault", e.fault_id], ["request-id", e.request_id], ["license", e.license_key_id],
  ], (e) => (e.status >= 400 || e.status === 0 ? "refused" : ""));
  $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function effect(rule) {
  const delay = rule.delayMs ? `delay ${rule.delayMs}${rule.jitterMs ? `+${rule.jitterMs}` : ""} ms` : "";
  const answer = rule.status ? `status ${rule.status}` : rule.action === "reset" ? "drop connection" : "";
  return [delay, answer].filter(Boolean).join(", ");
}

const FILTERS = ["api", "tenantId", "communityId", "eventName", "eventSourceId", "eventType", "eventObjectType",
  "eventObjectId"];

async function refreshHooks(hooks) {
  const last = await Promise.all(hooks.map((h) => get(`/__admin/webhooks/${encodeURIComponent(h.id)}/deliveries?limit=1`)));
  fill("#webhooks", hooks, (h) => {
    const [attempt] = last[hooks.indexOf(h)];
    const shown = attempt ? `${attempt.outcome} (attempt ${attempt.attempt}, ${attempt.status ?? attempt.error})` : "";
    return [
      ["hook", h.id], ["url", h.url], ["filters", FILTERS.filter((f) => h[f]).map((f) => `${f}=${h[f]}`).join(" ")],
      ["delivered", h.delivered], ["failed", h.failed], ["failing", h.failingAttempts], ["next", h.nextAttemptAt],
      ["last", shown],
    ];
  }, (h) => (h.failingAttempts || h.failed ? "refused" : ""));
}

async function refreshState() {
  const [kosmos, tenduke, licenses, clients, faults, hooks] = await Promise.all([
    get("/__admin/events?api=kosmos&limit=50"), get("/__admin/events?api=tenduke&limit=50"),
    get("/__admin/licenses"), get("/__admin/tenduke/clients"), get("/__admin/faults"), get("/__admin/webhooks"),
  ]);
  fill("#faults", faults, (f) => [
    ["fault", f.id], ["path", f.path], ["method", f.method], ["api", f.api], ["does", effect(f)],
    ["rate", f.rate ?? 1], ["times", f.times], ["matched", f.matched], ["fired", f.fired],
  ]);
  await refreshHooks(hooks);
  fill("#kosmos-events", kosmos.reverse(), (e) => [
    ["ts", e.event_ts], ["tenant", e.tenant_id], ["community", e.community_id], ["name", e.eventName],
    ["type", e.type], ["request", e.request_id],
  ]);
  fill("#tenduke-events", tenduke.reverse(), (e) => [
    ["received", e.eventReceived], ["source", e.eventSourceId], ["type", e.eventType],
    ["object", e.eventObjectType ? `${e.eventObjectType}/${e.eventObjectId}` : ""], ["id", e.eventId],
  ]);
  fill("#licenses", licenses, (l) => [
    ["key-id", l.keyId], ["license", redact(l.licenseKey)], ["level", l.authLevel], ["tenant", l.tenantId],
    ["community", l.communityId], ["expiry", l.expiry], ["disabled", l.disabled], ["tag", l.tag],
  ]);
  fill("#clients", clients, (c) => [
    ["client", c.clientId], ["name", c.name], ["bits", c.bits], ["thumbprint", c.thumbprint], ["created", c.createdAt],
  ]);
}

async function tick() {
  try {
    await refreshRequests();
    await refreshState();
  } catch (error) {
    $("#updated").textContent = String(error.message || error);
  }
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value);
  $("#token-box").hidden = true;
  tick();
});
$("#api-filter").addEventListener("change", tick);
$("#status-filter").addEventListener("change", tick);
tick();
setInterval(tick, 1000);
