// The page: the order form, one card per order, and the banner that says when the server
// cannot be reached.

import { OrderCard, setRichText } from "./card.js";
import { EndpointError, resolveEndpoints } from "./config.js";
import { Link, OrderTracker, Placement } from "./tracker.js";

const $ = (selector) => document.querySelector(selector);

const form = $("#order-form");
const list = $("[data-testid=orders]");
const empty = $("#no-orders");
const template = $("#order-template");
const banner = $("[data-testid=banner]");
const bannerText = $("#banner-text");
const bannerRetry = $("#banner-retry");

/** order id → {tracker, card} */
const orders = new Map();

let endpoints;
try {
  endpoints = resolveEndpoints(window.location);
} catch (error) {
  if (!(error instanceof EndpointError)) throw error;
  showBanner(error.message, { retry: false });
  form.querySelector("button[type=submit]").disabled = true;
}

if (endpoints) {
  $("#api-url").textContent = endpoints.api;
  $("#ws-url").textContent = endpoints.ws;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const choice = form.querySelector("input[name=pizza]:checked");
    placeOrder(choice.value, choice.dataset.name);
  });
  bannerRetry.addEventListener("click", () => {
    for (const { tracker } of orders.values()) tracker.retry();
  });
  // Countdowns ("reconnecting in 3 s") tick while any socket waits.
  window.setInterval(() => {
    for (const { tracker, card } of orders.values()) {
      if (tracker.link === Link.WAITING) card.render(tracker);
    }
  }, 1000);
}

function placeOrder(pizza, pizzaName) {
  const id = newOrderId();
  const tracker = new OrderTracker({
    id,
    pizza,
    endpoints,
    onChange: (changed) => orders.get(changed.id)?.card.render(changed),
    onReach: reached,
  });
  const card = new OrderCard(template, pizzaName, {
    onRetry: () => tracker.retry(),
    onRemove: () => removeOrder(id),
  });
  orders.set(id, { tracker, card });
  list.prepend(card.item);
  empty.hidden = true;
  tracker.place();
}

function removeOrder(id) {
  const entry = orders.get(id);
  if (!entry) return;
  entry.tracker.dispose();
  entry.card.item.remove();
  orders.delete(id);
  empty.hidden = orders.size > 0;
  if (![...orders.values()].some(({ tracker }) => needsServer(tracker))) hideBanner();
  form.querySelector("button[type=submit]").focus();
}

function needsServer(tracker) {
  return tracker.placement === Placement.UNSENT || tracker.link === Link.WAITING;
}

/** The latest word on the server wins: an answer hides the banner, a failure shows it. */
function reached(report) {
  if (report.ok) {
    hideBanner();
    // The server is back: sockets waiting out their backoff need not wait any longer.
    for (const { tracker } of orders.values()) {
      if (tracker.link === Link.WAITING) tracker.retry();
    }
    return;
  }
  showBanner(unreachableText(report), { retry: true });
}

function unreachableText({ via, url }) {
  if (!endpoints.deployed) {
    return (
      `Cannot reach the pizzabus server at ${endpoints.api} — is \`pizzabus serve\` running? ` +
      "Start it (`make run`); this page reconnects by itself."
    );
  }
  const [what, parameter] = via === "ws" ? ["WebSocket API", "ws"] : ["HTTP API", "api"];
  return (
    `Cannot reach the ${what} at ${url} — is the stack deployed, and is ?${parameter}= ` +
    "its URL? This page keeps retrying."
  );
}

function showBanner(text, { retry }) {
  setRichText(bannerText, text);
  bannerRetry.hidden = !retry;
  banner.hidden = false;
}

function hideBanner() {
  banner.hidden = true;
}

/** A UUID v4; `crypto.randomUUID` exists only on https and localhost pages. */
function newOrderId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
