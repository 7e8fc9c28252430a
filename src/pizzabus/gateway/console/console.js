// The operator console: polls /_pizzabus/console/state (the admin token rides in an HttpOnly
// cookie) and redraws the map, tables and charts; the buttons call the admin API.

const POLL_MS = 750;
const COLUMNS = { http_api: 0, bus: 1, rule: 2, function: 3, table: 4, websocket_api: 4 };
const $ = (id) => document.getElementById(id);

let state = null;
let faultsBuilt = false;
let searching = null;
let openTrace = null;

function escape(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function api(path, options = {}) {
  const response = await fetch(`/_pizzabus${path}`, {
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    ...options,
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = { message: response.statusText };
  }
  if (!response.ok) {
    throw new Error(body?.message || `HTTP ${response.status}`);
  }
  return body;
}

function ms(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${value.toFixed(0)} ms`;
  return `${value.toFixed(2)} ms`;
}

// --- the map ----------------------------------------------------------------------------

function edgeCount(edge) {
  const [kind, a, b] = edge.count;
  const counters = state.counters;
  switch (kind) {
    case "request":
      return counters.requests
        .filter((r) => r.api === a && r.route === b)
        .reduce((sum, r) => sum + r.count, 0);
    case "matched":
      return counters.matched.filter((m) => m.rule === a).reduce((sum, m) => sum + m.count, 0);
    case "target":
      return counters.targets.find((t) => t.rule === a && t.target === b)?.invocations ?? 0;
    case "invocations":
      return state.functions[a]?.invocations ?? 0;
    case "pushes":
      return counters.messages.out ?? 0;
    default:
      return null;
  }
}

function drawMap() {
  const map = state.map;
  const columns = [[], [], [], [], []];
  for (const node of map.nodes) columns[COLUMNS[node.kind] ?? 4].push(node);
  const width = 1100;
  const rowHeight = 46;
  const height = Math.max(...columns.map((c) => c.length)) * rowHeight + 30;
  const boxWidth = 170;
  const place = {};
  columns.forEach((nodes, column) => {
    const top = (height - nodes.length * rowHeight) / 2;
    nodes.forEach((node, row) => {
      place[node.id] = {
        x: 10 + column * ((width - boxWidth - 20) / 4),
        y: top + row * rowHeight + 8,
      };
    });
  });
  const lines = map.edges
    .map((edge) => {
      const from = place[edge.from];
      const to = place[edge.to];
      if (!from || !to) return "";
      const forward = to.x > from.x;
      const x1 = forward ? from.x + boxWidth : from.x;
      const x2 = forward ? to.x : to.x + boxWidth;
      const y1 = from.y + 15;
      const y2 = to.y + 15;
      const count = edgeCount(edge);
      const label =
        count === null
          ? ""
          : `<text class="count" x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 + (forward ? -3 : 12)}" data-edge="${escape(
              `${edge.from}>${edge.to}`,
            )}">${count}</text>`;
      const live = count ? " live" : "";
      return `<line class="edge${live}" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" marker-end="url(#arrow)"></line>${label}`;
    })
    .join("");
  const boxes = map.nodes
    .map((node) => {
      const { x, y } = place[node.id];
      const stats = node.kind === "function" ? state.functions[node.name] : null;
      const failing = stats && stats.errors ? " failing" : "";
      return `<g class="node ${node.kind}${failing}" data-node="${escape(node.id)}">
        <rect x="${x}" y="${y}" width="${boxWidth}" height="30" rx="6"></rect>
        <text x="${x + 8}" y="${y + 19}">${escape(node.name)}</text></g>`;
    })
    .join("");
  $("map").innerHTML = `<svg viewBox="0 0 ${width} ${height}" role="img"
      aria-label="System map: APIs, bus, rules, functions, tables">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6"
      markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>
    ${lines}${boxes}</svg>`;
}

// --- tables -----------------------------------------------------------------------------

function drawFunctions() {
  const rows = Object.entries(state.functions).map(
    ([name, f]) => `<tr data-function="${escape(name)}">
      <th scope="row">${escape(name)}</th><td>${f.invocations}</td>
      <td class="${f.errors ? "bad" : ""}">${f.errors}</td><td>${f.throttles}</td>
      <td>${ms(f.p50_ms)}</td><td>${ms(f.p99_ms)}</td><td>${f.concurrency}</td></tr>`,
  );
  $("functions-body").innerHTML = rows.join("");
}

function drawRules() {
  const counters = state.counters;
  const rows = [];
  for (const edge of state.map.edges.filter((e) => e.count[0] === "target")) {
    const [, rule, target] = edge.count;
    const matched = counters.matched
      .filter((m) => m.rule === rule)
      .reduce((sum, m) => sum + m.count, 0);
    const t = counters.targets.find((x) => x.rule === rule && x.target === target) ?? {};
    rows.push(`<tr data-rule="${escape(rule)}"><th scope="row">${escape(rule)}</th>
      <td>${matched}</td><td>${escape(target)}</td><td>${t.invocations ?? 0}</td>
      <td>${t.retries ?? 0}</td><td class="${t.dead_letters ? "bad" : ""}">${t.dead_letters ?? 0}</td></tr>`);
  }
  $("rules-body").innerHTML = rows.join("");
}

function drawFacts() {
  const stats = state.stats;
  $("connections").textContent = stats.connections;
  $("messages").textContent = `${state.counters.messages.in ?? 0} / ${state.counters.messages.out ?? 0}`;
  $("in-flight").textContent = stats.deliveries.in_flight;
  $("retry-count").textContent = state.retries.length;
  $("connections-body").innerHTML = state.connections
    .map(
      (c) => `<tr data-connection="${escape(c.id)}"><td><code>${escape(c.id)}</code></td>
      <td>${escape(c.source_ip)}</td><td>${(state.now - c.connected_at).toFixed(0)} s</td>
      <td>${c.backlog}</td></tr>`,
    )
    .join("");
  $("retries-body").innerHTML = state.retries
    .map(
      (r) => `<tr><td>${escape(r.rule)} → ${escape(r.target)}</td><td>${r.attempts}</td>
      <td>${r.due_in_s.toFixed(1)} s</td><td>${escape(r.error)}</td></tr>`,
    )
    .join("");
}

// The processes serving the system: the one server, or a cluster's gateways and workers (as
// their heartbeats tell; one not heard of for a few seconds is gone from the list).
function drawProcesses() {
  const processes = state.nodes;
  $("process-count").textContent = processes.length;
  $("processes-body").innerHTML = processes
    .map(
      (p) => `<tr data-process="${escape(p.node)}" data-kind="${escape(p.kind)}">
      <td><code>${escape(p.node)}</code></td><td>${escape(p.kind)}</td><td>${p.pid ?? "?"}</td>
      <td>${p.metrics ? `<code>${escape(p.metrics)}</code>` : "none"}</td>
      <td>${p.heartbeat_age_s.toFixed(1)} s ago</td></tr>`,
    )
    .join("");
}

function drawDeadLetters() {
  const letters = state.dead_letters;
  $("dlq-count").textContent = state.stats.dead_letters;
  $("dlq-body").innerHTML = letters
    .map(
      (l) => `<tr data-letter="${escape(l.id)}">
      <td>${new Date(l.at * 1000).toLocaleTimeString()}</td>
      <td>${escape(l.rule)} → ${escape(l.target)}</td><td>${l.attempts}</td>
      <td>${escape(l.error_type)}: ${escape(l.error_message)}</td>
      <td class="actions"><button type="button" data-action="show">Show</button>
      <button type="button" data-action="redrive">Redrive</button></td></tr>`,
    )
    .join("");
}

// --- charts -----------------------------------------------------------------------------

function drawChart(canvas, values, colour) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const top = Math.max(1, ...values);
  context.strokeStyle = getComputedStyle(document.body).getPropertyValue("--grid");
  context.beginPath();
  context.moveTo(0, height - 0.5);
  context.lineTo(width, height - 0.5);
  context.stroke();
  context.fillStyle = getComputedStyle(document.body).getPropertyValue("--muted");
  context.font = "11px system-ui, sans-serif";
  context.fillText(String(top), 4, 12);
  if (values.length < 2) return;
  context.strokeStyle = colour;
  context.lineWidth = 2;
  context.beginPath();
  const step = width / Math.max(values.length - 1, 59);
  values.forEach((value, i) => {
    const x = i * step;
    const y = height - 2 - (value / top) * (height - 16);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

function drawCharts() {
  const series = state.series;
  const events = series.map((s) => s.events);
  const errors = series.map((s) => s.errors);
  $("events-now").textContent = events.length ? `now ${events[events.length - 1]}` : "";
  $("errors-now").textContent = errors.length ? `now ${errors[errors.length - 1]}` : "";
  drawChart($("events-chart"), events, "#2f80ed");
  drawChart($("errors-chart"), errors, "#d63b3b");
}

// --- faults -----------------------------------------------------------------------------

function buildFaults() {
  const functions = state.map.nodes.filter((n) => n.kind === "function").map((n) => n.name);
  $("faults-body").innerHTML = functions
    .map((name) => {
      const fault = state.faults.functions[name] ?? {};
      return `<tr><th scope="row">${escape(name)}</th>
        <td><input type="number" min="0" max="1" step="0.05" aria-label="${escape(name)} error rate"
          data-function="${escape(name)}" data-field="error_rate" value="${fault.error_rate ?? 0}"></td>
        <td><input type="number" min="0" max="1" step="0.05" aria-label="${escape(name)} timeout rate"
          data-function="${escape(name)}" data-field="timeout_rate" value="${fault.timeout_rate ?? 0}"></td></tr>`;
    })
    .join("");
  $("faults").elements.gone_rate.value = state.faults.gone_rate;
  faultsBuilt = true;
}

async function applyFaults(event) {
  event.preventDefault();
  const plan = { functions: {}, gone_rate: Number($("faults").elements.gone_rate.value) || 0 };
  for (const input of $("faults-body").querySelectorAll("input")) {
    const value = Number(input.value) || 0;
    if (value > 0) {
      plan.functions[input.dataset.function] ??= {};
      plan.functions[input.dataset.function][input.dataset.field] = value;
    }
  }
  try {
    await api("/faults", { method: "PUT", body: JSON.stringify(plan) });
    $("faults-message").textContent = "Applied.";
  } catch (error) {
    $("faults-message").textContent = error.message;
  }
}

// --- traces -----------------------------------------------------------------------------

function drawTraces(list) {
  $("traces-body").innerHTML = list
    .map(
      (t) => `<tr data-trace="${escape(t.trace_id)}" tabindex="0" class="${
        t.trace_id === openTrace ? "open" : ""
      }"><td><code>${escape(t.trace_id)}</code></td><td>${escape(t.first_event ?? "")}</td>
      <td>${t.spans}</td><td>${ms(t.duration_ms)}</td>
      <td class="${t.outcome === "ok" ? "" : "bad"}">${escape(t.outcome)}</td></tr>`,
    )
    .join("");
}

function summarise(trace) {
  const spans = trace.spans;
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.duration_ms / 1000));
  const failed = spans.filter((s) => s.outcome !== "ok");
  return {
    trace_id: trace.trace_id,
    first_event: spans.find((s) => s.kind === "event")?.name,
    spans: spans.length,
    duration_ms: (end - start) * 1000,
    outcome: failed.length ? failed[failed.length - 1].outcome : "ok",
  };
}

async function showTrace(traceId) {
  openTrace = traceId;
  const trace = await api(`/traces/${encodeURIComponent(traceId)}`);
  const spans = trace.spans;
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.duration_ms / 1000));
  const total = Math.max(end - start, 1e-6);
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const span of spans) {
    const parent = ids.has(span.parent) ? span.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const rows = [];
  const walk = (span, depth) => {
    const left = ((span.start - start) / total) * 100;
    const width = Math.max(0.4, ((span.duration_ms / 1000) / total) * 100);
    rows.push(`<div class="span ${span.kind} ${span.outcome === "ok" ? "" : "bad"}" data-kind="${span.kind}">
      <span class="label" style="padding-left:${depth * 14}px">${escape(span.kind)}
        <b>${escape(span.name)}</b>${span.outcome === "ok" ? "" : ` <em>${escape(span.outcome)}</em>`}</span>
      <span class="track"><span class="bar" style="left:${left}%;width:${Math.min(width, 100 - left)}%"></span></span>
      <span class="took">+${((span.start - start) * 1000).toFixed(1)} ms${
        span.duration_ms ? ` · ${ms(span.duration_ms)}` : ""
      }</span></div>`);
    for (const child of children.get(span.span_id) ?? []) walk(child, depth + 1);
  };
  for (const span of children.get(null) ?? []) walk(span, 0);
  const box = $("waterfall");
  box.innerHTML = `<h3>journey <code>${escape(traceId)}</code>, ${ms(total * 1000)}</h3>${rows.join("")}`;
  box.hidden = false;
}

async function search(event) {
  event.preventDefault();
  const text = new FormData(event.target).get("q").trim();
  if (!text) {
    searching = null;
    drawTraces(state.traces);
    return;
  }
  const found = await api(`/traces?q=${encodeURIComponent(text)}`);
  searching = found.traces.map(summarise);
  drawTraces(searching);
}

// --- the loop ---------------------------------------------------------------------------

async function poll() {
  try {
    state = await api("/console/state");
    $("system-name").textContent = state.map.name;
    drawMap();
    drawFunctions();
    drawRules();
    drawFacts();
    drawProcesses();
    drawDeadLetters();
    drawCharts();
    if (!faultsBuilt) buildFaults();
    if (searching === null) drawTraces(state.traces);
    $("status").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    $("status").className = "status live";
  } catch (error) {
    $("status").textContent = `cannot read the server's state: ${error.message}`;
    $("status").className = "status down";
  }
  setTimeout(poll, POLL_MS);
}

function wire() {
  $("faults").addEventListener("submit", applyFaults);
  $("faults-clear").addEventListener("click", async () => {
    for (const input of $("faults").querySelectorAll("input")) input.value = 0;
    await applyFaults(new Event("submit"));
  });
  $("trace-search").addEventListener("submit", (event) =>
    search(event).catch((error) => ($("status").textContent = error.message)),
  );
  $("traces-body").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-trace]");
    if (row) showTrace(row.dataset.trace).catch((e) => ($("status").textContent = e.message));
  });
  $("dlq-body").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("tr").dataset.letter;
    try {
      if (button.dataset.action === "show") {
        const letter = await api(`/dlq/${encodeURIComponent(id)}`);
        $("dlq-detail").textContent = JSON.stringify(letter, null, 2);
        $("dlq-detail").hidden = false;
      } else {
        await api("/dlq/redrive", { method: "POST", body: JSON.stringify({ ids: [id] }) });
      }
    } catch (error) {
      $("status").textContent = error.message;
    }
  });
  $("redrive-all").addEventListener("click", () =>
    api("/dlq/redrive", { method: "POST", body: JSON.stringify({ all: true }) }).catch(
      (e) => ($("status").textContent = e.message),
    ),
  );
  $("purge").addEventListener("click", () => {
    if (confirm("Purge every dead letter? They cannot be redriven afterwards.")) {
      api("/dlq", { method: "DELETE" }).catch((e) => ($("status").textContent = e.message));
    }
  });
}

wire();
poll();
