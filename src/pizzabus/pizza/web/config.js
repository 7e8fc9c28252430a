// Where the two APIs are. `?api=` and `?ws=` point the page at a deployed AWS stack; without
// them it talks to the server that served it (`/` and `ws(s)://<host>/ws`).

/** Default time without a new stage before an order is called stalled. */
export const DEFAULT_STALL_MS = 10_000;

/** A parameter that is not a usable URL, named so the page can say how to fix it. */
export class EndpointError extends Error {}

/**
 * The endpoints and settings this page uses, read from its own address.
 * `?stall=<ms>` shortens the stall timeout (the browser tests use it).
 */
export function resolveEndpoints(location) {
  const params = new URLSearchParams(location.search);
  // A page opened from disk has no server of its own: assume `pizzabus serve`'s default.
  const origin = location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:8000";
  const api = parseUrl("api", params.get("api") || `${origin}/`, ["http:", "https:"]);
  if (!api.pathname.endsWith("/")) api.pathname += "/";
  const ws = parseUrl("ws", params.get("ws") || `${origin.replace(/^http/, "ws")}/ws`, [
    "ws:",
    "wss:",
  ]);
  const stall = Number.parseInt(params.get("stall") ?? "", 10);
  return {
    api: api.href,
    ws: ws.href,
    deployed: params.has("api") || params.has("ws"),
    stallMs: Number.isFinite(stall) && stall > 0 ? stall : DEFAULT_STALL_MS,
  };
}

function parseUrl(name, value, protocols) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new EndpointError(
      `?${name}=${value} is not a URL. Give the full address, ` +
        `e.g. ?${name}=${name === "ws" ? "wss://abc.execute-api.us-east-1.amazonaws.com/production" : "https://abc.execute-api.us-east-1.amazonaws.com/"}`,
    );
  }
  if (!protocols.includes(url.protocol)) {
    throw new EndpointError(
      `?${name}=${value} must start with ${protocols.map((p) => `${p}//`).join(" or ")}.`,
    );
  }
  return url;
}
