// One order card: the markup comes from <template id="order-template"> in index.html; this
// fills it in from an OrderTracker every time the tracker changes.

import { Link, STAGES } from "./tracker.js";

const STATUS_TEXT = {
  placing: "placing the order…",
  placed: "ordered — waiting for the kitchen",
  make_pizza: "being made",
  cook_pizza: "in the oven",
  deliver_pizza: "out for delivery",
  delivered: "delivered",
  stalled: "stalled",
  refused: "refused",
  unsent: "not sent",
};

/** The DOM of one order, kept in step with its tracker. */
export class OrderCard {
  /**
   * @param {HTMLTemplateElement} template
   * @param {string} pizzaName how the pizza is shown ("Margherita")
   * @param {{onRetry: () => void, onRemove: () => void}} actions
   */
  constructor(template, pizzaName, { onRetry, onRemove }) {
    this.item = template.content.firstElementChild.cloneNode(true);
    this.root = this.item.querySelector("[data-testid=order]");
    this.pizzaName = pizzaName;
    this.part = (name) => this.root.querySelector(`[data-part=${name}]`);
    this.part("retry").addEventListener("click", onRetry);
    this.part("remove").addEventListener("click", onRemove);
  }

  /** Fill in everything that can change. */
  render(tracker) {
    const { root } = this;
    const status = tracker.status;
    const short = tracker.id.slice(0, 8);
    if (root.dataset.orderId !== tracker.id) this.#renderIdentity(tracker, short);
    root.dataset.status = status;
    this.part("status").textContent =
      status === "stalled" ? `stalled — no news for ${seconds(tracker.endpoints.stallMs)}` : STATUS_TEXT[status];
    for (const stage of STAGES) this.#renderStage(stage, tracker.stages.get(stage));
    this.#renderMessage(tracker, status);
    this.part("link").textContent = linkText(tracker);
    this.part("link").dataset.link = tracker.link;
    this.part("retry").hidden = !(status === "unsent" || tracker.link === Link.WAITING);
    this.part("retry").textContent = status === "unsent" ? "Send again" : "Reconnect now";
  }

  #renderIdentity(tracker, short) {
    const { root } = this;
    root.dataset.orderId = tracker.id;
    root.dataset.pizza = tracker.pizza;
    const titleId = `order-${tracker.id}`;
    root.setAttribute("aria-labelledby", titleId);
    this.part("title").id = titleId;
    this.part("title").textContent = this.pizzaName;
    this.part("pie").className = `pie pie--${tracker.pizza}`;
    this.part("id").textContent = short;
    this.part("id").title = tracker.id;
    this.part("placed").dateTime = tracker.placedWall.toISOString();
    this.part("placed").textContent = wallTime(tracker.placedWall);
    this.part("who").textContent = `${this.pizzaName}, order ${short}: `;
  }

  #renderStage(stage, seen) {
    const li = this.root.querySelector(`[data-stage=${stage}]`);
    const done = seen !== undefined;
    li.dataset.state = done ? "done" : "pending";
    li.classList.toggle("done", done);
    const elapsed = li.querySelector("[data-part=elapsed]");
    const wall = li.querySelector("time");
    if (!done) {
      elapsed.textContent = "";
      wall.textContent = "";
      wall.removeAttribute("datetime");
    } else if (seen.wall === null) {
      elapsed.textContent = "—";
      elapsed.title = "This stage was not reported on its own; a later one implies it.";
      wall.textContent = "";
    } else {
      elapsed.textContent = `+${Math.round(seen.elapsedMs)} ms`;
      elapsed.title = "milliseconds since the order was placed";
      wall.dateTime = seen.wall.toISOString();
      wall.textContent = wallTime(seen.wall);
    }
  }

  #renderMessage(tracker, status) {
    const message = this.part("message");
    let text = tracker.note;
    if (status === "refused") text = tracker.message;
    if (status === "unsent") text = `${tracker.message} Check that the server is running, then send it again.`;
    if (status === "stalled") {
      const last = tracker.latestStage;
      text =
        `No new stage for ${seconds(tracker.endpoints.stallMs)}` +
        (last ? ` after ${last}.` : " since it was placed.") +
        " A stage may have failed (failed events are retried, then dead-lettered): " +
        `\`pizzabus trace ${tracker.id}\` follows the order, \`pizzabus dlq list\` shows ` +
        "dead letters, `pizzabus faults show` injected faults.";
    }
    setRichText(message, text);
    message.hidden = !text;
    message.dataset.kind = status === "refused" || status === "unsent" ? "error" : "info";
  }
}

function linkText(tracker) {
  switch (tracker.link) {
    case Link.CONNECTING:
      return tracker.attempt > 0 ? `reconnecting (attempt ${tracker.attempt + 1})…` : "connecting…";
    case Link.OPEN:
      return "live updates on";
    case Link.WAITING: {
      const wait = Math.max(0, Math.round((tracker.retryAt - Date.now()) / 1000));
      return wait > 0 ? `connection lost — reconnecting in ${wait} s` : "connection lost — reconnecting…";
    }
    default:
      return "";
  }
}

function seconds(ms) {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Set `text` as the content of `element`, with `backticked` parts shown as code. */
export function setRichText(element, text) {
  if (element.dataset.text === text) return; // unchanged: do not re-announce a live region
  element.dataset.text = text;
  element.replaceChildren(
    ...text.split("`").map((part, i) => {
      if (i % 2 === 0) return document.createTextNode(part);
      const code = document.createElement("code");
      code.textContent = part;
      return code;
    }),
  );
}

/** 14:03:07.215 */
export function wallTime(date) {
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}`
  );
}
