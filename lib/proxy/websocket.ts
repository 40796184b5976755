/**
 * @module
 * WebSocket pass-through: connect to the replica first (so its chosen
 * sub-protocol, or its refusal, is known), then upgrade the client and relay
 * messages and close frames both ways.
 */
import { errorPage } from "./error_pages.ts";
import type { Target } from "./upstream_pool.ts";

/** True when `req` asks for a WebSocket upgrade. */
export function isWebSocket(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

const SKIP = /^(sec-websocket-|upgrade$|connection$|host$|content-length$)/;

/** Relays a WebSocket between the client of `req` and target `t`. */
export async function proxyWebSocket(
  req: Request,
  t: Target,
  pathAndQuery: string,
  headers: Iterable<[string, string]>,
  timeoutMs: number,
): Promise<Response> {
  const protocols = (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter(Boolean);
  const fwd = new Headers();
  for (const [k, v] of headers) if (!SKIP.test(k)) fwd.set(k, v);
  const url = t.url.replace(/^http/, "ws") + pathAndQuery;
  const upstream = new WebSocket(url, { protocols, headers: fwd });
  upstream.binaryType = "arraybuffer";
  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    upstream.onopen = () => {
      clearTimeout(timer);
      resolve(true);
    };
    upstream.onerror = () => {
      clearTimeout(timer);
      resolve(false);
    };
  });
  if (!opened) {
    try {
      upstream.close();
    } catch { /* never opened */ }
    return errorPage(502);
  }
  t.acquire();
  const { socket, response } = Deno.upgradeWebSocket(
    req,
    upstream.protocol ? { protocol: upstream.protocol } : {},
  );
  socket.binaryType = "arraybuffer";
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      t.release();
    }
  };
  socket.onmessage = (e) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.send(e.data);
  };
  upstream.onmessage = (e) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(e.data);
  };
  socket.onclose = (e) => {
    release();
    closeWith(upstream, e);
  };
  upstream.onclose = (e) => {
    release();
    closeWith(socket, e);
  };
  socket.onerror = () => closeWith(upstream);
  upstream.onerror = () => closeWith(socket);
  return response;
}

function closeWith(ws: WebSocket, e?: CloseEvent): void {
  if (
    ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING
  ) {
    return;
  }
  const code = e && (e.code === 1000 || (e.code >= 3000 && e.code < 5000))
    ? e.code
    : 1000;
  try {
    ws.close(code, e?.reason ?? "");
  } catch {
    ws.close();
  }
}
