/**
 * @module
 * WebSocket pass-through: connect to the replica first (so its chosen
 * sub-protocol, or its refusal, is known), then upgrade the client and relay
 * messages and close frames both ways. The upstream side is `_ws_client.ts`,
 * which sends the routed Host (Deno's WebSocket sends its URL's).
 */
import { errorPage } from "./error_pages.ts";
import type { Target } from "./upstream_pool.ts";
import { connectWs } from "./_ws_client.ts";

/** True when `req` asks for a WebSocket upgrade. */
export function isWebSocket(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

const SKIP = /^(sec-websocket-|upgrade$|connection$|content-length$)/;

/**
 * Relays a WebSocket between the client of `req` and target `t`; `headers`
 * go upstream as they are, the routed Host included.
 */
export async function proxyWebSocket(
  req: Request,
  t: Target,
  pathAndQuery: string,
  headers: Iterable<[string, string]>,
  timeoutMs: number,
): Promise<Response> {
  const protocols = (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",").map((p) => p.trim()).filter(Boolean);
  const fwd: [string, string][] = [];
  for (const [k, v] of headers) if (!SKIP.test(k)) fwd.push([k, v]);
  const upstream = await connectWs(
    t.url,
    pathAndQuery,
    fwd,
    protocols,
    timeoutMs,
  );
  if (!upstream) return errorPage(502);
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
  // the upstream is read once the client's side is open: nothing is lost
  socket.onopen = () => upstream.start();
  socket.onmessage = (e) => {
    upstream.send(
      typeof e.data === "string" ? e.data : new Uint8Array(e.data),
    );
  };
  upstream.onmessage = (data) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(data);
  };
  socket.onclose = (e) => {
    release();
    upstream.close(closeCode(e.code), e.reason);
  };
  upstream.onclose = (code, reason) => {
    release();
    closeWith(socket, code, reason);
  };
  socket.onerror = () => upstream.close(1000);
  return response;
}

/** A close code one may send on (1000, or an application's 3000-4999). */
function closeCode(code: number): number {
  return code === 1000 || (code >= 3000 && code < 5000) ? code : 1000;
}

function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (
    ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING
  ) {
    return;
  }
  try {
    ws.close(closeCode(code), reason);
  } catch {
    ws.close();
  }
}
