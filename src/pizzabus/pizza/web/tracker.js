// One order from the browser's side: the POST that places it, the WebSocket that follows it,
// and the stages seen so far. No DOM here; the card renders whatever this reports.
//
// Timers, the clock, `fetch` and `WebSocket` come in through `env`, so the logic can be driven
// by fakes as well as by the real browser.

/** The stages, in the order the pipeline runs them. */
export const STAGES = Object.freeze(["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]);

/** What happened to the POST that places the order. */
export const Placement = Object.freeze({
  SENDING: "sending",
  ACCEPTED: "accepted",
  REFUSED: "refused", // the API answered, and said no: `message` says why
  UNSENT: "unsent", // the API could not be reached
});

/** The WebSocket's lifecycle. Every change goes through `#move`, which checks it. */
export const Link = Object.freeze({
  IDLE: "idle",
  CONNECTING: "connecting",
  OPEN: "open",
  WAITING: "waiting", // dropped before `delivered`; reconnects when `retryAt` comes
  CLOSED: "closed", // for good: delivered, refused, unsent or removed
});

const NEXT_LINK = {
  [Link.IDLE]: [Link.CONNECTING, Link.CLOSED],
  [Link.CONNECTING]: [Link.OPEN, Link.WAITING, Link.CLOSED],
  [Link.OPEN]: [Link.WAITING, Link.CLOSED],
  [Link.WAITING]: [Link.CONNECTING, Link.CLOSED],
  [Link.CLOSED]: [Link.CONNECTING], // `retry()` of an unsent order
};

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const POST_TIMEOUT_MS = 15_000;
// The order is posted once its socket is open, so no push can find the connection still in
// `$connect` (API Gateway answers such a push 410 Gone); a slow socket delays it this long.
const CONNECT_FIRST_MS = 3_000;

export const browserEnv = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (handle) => window.clearTimeout(handle),
  random: () => Math.random(),
  fetch: (...args) => window.fetch(...args),
  WebSocket: window.WebSocket,
};

/** Follows one order from placing to `delivered`. */
export class OrderTracker {
  /**
   * @param {object} options
   * @param {string} options.id order id (a UUID)
   * @param {string} options.pizza what `item.pizza` says
   * @param {{api: string, ws: string, stallMs: number}} options.endpoints
   * @param {(tracker: OrderTracker) => void} options.onChange after every visible change
   * @param {(report: {ok: boolean, via?: string, url?: string}) => void} options.onReach
   *   whether the server answered (`ok`) or could not be reached (`via` "http" or "ws")
   */
  constructor({ id, pizza, endpoints, onChange, onReach, env = browserEnv }) {
    this.id = id;
    this.pizza = pizza;
    this.endpoints = endpoints;
    this.onChange = onChange;
    this.onReach = onReach;
    this.env = env;
    this.placement = Placement.SENDING;
    this.message = ""; // why it was refused or not sent
    this.note = ""; // anything else the server said on the socket
    this.stages = new Map(); // eventtype → {elapsedMs, wall}
    this.stalled = false;
    this.link = Link.IDLE;
    this.attempt = 0; // failed connections in a row
    this.retryAt = null; // wall time of the next connection attempt, while WAITING
    this.placedAt = 0;
    this.placedWall = null;
    this.socket = null;
    this.openedBefore = false;
    this.reconnectTimer = null;
    this.stallTimer = null;
    this.settled = null; // resolves once the socket first opens or fails
    this.disposed = false;
  }

  /** The newest stage seen, or null. */
  get latestStage() {
    for (let i = STAGES.length - 1; i >= 0; i -= 1) {
      if (this.stages.has(STAGES[i])) return STAGES[i];
    }
    return null;
  }

  get delivered() {
    return this.stages.has("delivered");
  }

  /** One word for where the order is: a stage name, or placing/placed/stalled/refused/unsent. */
  get status() {
    if (this.placement === Placement.REFUSED) return "refused";
    if (this.placement === Placement.UNSENT) return "unsent";
    if (this.delivered) return "delivered";
    if (this.stalled) return "stalled";
    return this.latestStage ?? (this.placement === Placement.ACCEPTED ? "placed" : "placing");
  }

  /** Start following the order, then send it. */
  place() {
    this.placedAt = this.env.now();
    this.placedWall = this.env.wallNow();
    this.placement = Placement.SENDING;
    this.message = "";
    this.stalled = false;
    this.#armStall();
    const settled = new Promise((resolve) => {
      this.settled = resolve;
      this.env.setTimeout(resolve, CONNECT_FIRST_MS);
    });
    this.#connect();
    this.#changed();
    settled.then(() => {
      if (!this.disposed) this.#post();
    });
  }

  /** Send an unsent order again, or reconnect a waiting socket now. */
  retry() {
    if (this.placement === Placement.UNSENT) {
      this.place();
    } else if (this.link === Link.WAITING) {
      this.env.clearTimeout(this.reconnectTimer);
      this.#connect();
    }
  }

  /** Stop following the order: close the socket, stop the timers. */
  dispose() {
    this.disposed = true;
    this.#closeForGood();
    this.env.clearTimeout(this.stallTimer);
  }

  async #post() {
    const body = JSON.stringify({
      item: { order_id: this.id, eventtype: "make_pizza", pizza: this.pizza },
    });
    let response;
    let answer;
    try {
      response = await this.env.fetch(this.endpoints.api, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      answer = await response.json().catch(() => ({}));
    } catch (error) {
      const timedOut = error?.name === "TimeoutError";
      this.#fail(
        Placement.UNSENT,
        timedOut
          ? `The HTTP API did not answer within ${POST_TIMEOUT_MS / 1000} s.`
          : "The HTTP API could not be reached, so the order was not placed.",
      );
      this.onReach({ ok: false, via: "http", url: this.endpoints.api });
      return;
    }
    this.onReach({ ok: true });
    const failed = answer?.Entries?.find?.((entry) => entry.ErrorCode);
    if (!response.ok || answer?.FailedEntryCount > 0 || failed) {
      const why =
        answer?.message ??
        answer?.Message ??
        (failed ? `${failed.ErrorCode}: ${failed.ErrorMessage}` : null) ??
        `The HTTP API answered ${response.status} ${response.statusText}.`;
      this.#fail(Placement.REFUSED, why);
      return;
    }
    if (this.placement === Placement.SENDING) this.placement = Placement.ACCEPTED;
    this.#changed();
  }

  #fail(placement, message) {
    this.placement = placement;
    this.message = message;
    this.#closeForGood();
    this.env.clearTimeout(this.stallTimer);
    this.#changed();
  }

  #connect() {
    this.#move(Link.CONNECTING);
    const url = new URL(this.endpoints.ws);
    url.searchParams.set("order_id", this.id);
    const socket = new this.env.WebSocket(url.href);
    this.socket = socket;
    socket.addEventListener("open", () => this.#opened(socket));
    socket.addEventListener("message", (event) => this.#received(event.data));
    socket.addEventListener("close", (event) => this.#closed(socket, event));
  }

  #opened(socket) {
    if (socket !== this.socket) return;
    const reconnected = this.openedBefore;
    this.openedBefore = true;
    this.attempt = 0;
    this.retryAt = null;
    this.#move(Link.OPEN);
    this.settled?.();
    // The server sends what already happened only when asked (§2.6 of the design).
    socket.send(JSON.stringify({ action: "sync" }));
    this.onReach({ ok: true });
    if (reconnected) this.#refresh();
    this.#changed();
  }

  #closed(socket, event) {
    if (socket !== this.socket) return; // an old socket, already replaced
    this.socket = null;
    if (this.link === Link.CLOSED) return; // we closed it on purpose
    if (this.delivered) {
      this.#move(Link.CLOSED);
      this.#changed();
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const jittered = Math.round(delay * (0.8 + 0.4 * this.env.random()));
    this.attempt += 1;
    this.retryAt = new Date(this.env.wallNow().getTime() + jittered);
    this.#move(Link.WAITING);
    this.reconnectTimer = this.env.setTimeout(() => this.#connect(), jittered);
    this.onReach({ ok: false, via: "ws", url: this.endpoints.ws, code: event.code });
    this.settled?.();
    this.#changed();
  }

  #received(data) {
    let detail;
    try {
      detail = JSON.parse(data);
    } catch {
      console.warn("pizzabus: ignored a frame that is not JSON", data);
      return;
    }
    const item = detail?.item;
    if (item && item.order_id === this.id && STAGES.includes(item.eventtype)) {
      this.#record(item.eventtype);
    } else if (typeof detail?.message === "string") {
      this.note = `The WebSocket API said: ${detail.message}`;
      this.#changed();
    } else {
      console.debug("pizzabus: ignored a frame for no stage of this order", detail);
    }
  }

  /** Note a stage once; a repeat (after a reconnect, say) changes nothing. */
  #record(eventtype) {
    if (this.stages.has(eventtype)) return;
    const seen = { elapsedMs: this.env.now() - this.placedAt, wall: this.env.wallNow() };
    // The pipeline is linear: a stage implies every one before it, even one we never saw.
    for (const stage of STAGES.slice(0, STAGES.indexOf(eventtype))) {
      if (!this.stages.has(stage)) this.stages.set(stage, { elapsedMs: null, wall: null });
    }
    this.stages.set(eventtype, seen);
    this.stalled = false;
    if (this.placement === Placement.SENDING) this.placement = Placement.ACCEPTED;
    if (this.delivered) {
      this.env.clearTimeout(this.stallTimer);
      this.#closeForGood();
    } else {
      this.#armStall();
    }
    this.#changed();
  }

  /** After a reconnect, ask the HTTP API for the whole timeline, in case a push was lost. */
  async #refresh() {
    const url = new URL(`orders/${encodeURIComponent(this.id)}`, this.endpoints.api);
    try {
      const response = await this.env.fetch(url.href);
      if (!response.ok) return; // 404: nothing recorded yet; the socket will tell
      const { events = [] } = await response.json();
      for (const detail of events) {
        const type = detail?.item?.eventtype;
        if (STAGES.includes(type)) this.#record(type);
      }
    } catch (error) {
      console.info("pizzabus: could not refresh the order's timeline", error);
    }
  }

  #armStall() {
    this.env.clearTimeout(this.stallTimer);
    this.stallTimer = this.env.setTimeout(() => {
      if (this.delivered || this.placement === Placement.REFUSED) return;
      if (this.placement === Placement.UNSENT) return;
      this.stalled = true;
      this.#changed();
    }, this.endpoints.stallMs);
  }

  #closeForGood() {
    this.env.clearTimeout(this.reconnectTimer);
    this.retryAt = null;
    if (this.link !== Link.CLOSED) this.#move(Link.CLOSED);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000, "done");
  }

  #move(next) {
    if (!NEXT_LINK[this.link].includes(next)) {
      throw new Error(`order ${this.id}: socket is ${this.link}, cannot become ${next}`);
    }
    this.link = next;
  }

  #changed() {
    this.onChange(this);
  }
}
