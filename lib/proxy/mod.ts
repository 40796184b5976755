/**
 * @module
 * The built-in reverse proxy: route table, balancing, health, limits and the
 * HTTP/HTTPS listeners. `Router` is the TrafficControl deploys drive;
 * `ProxyServer` is the daemon part that listens.
 */
export { Router } from "./router.ts";
export type {
  HandlerBackend,
  ProxyRoute,
  RequestInfo,
  RouterOptions,
} from "./router.ts";
export { ProxyServer } from "./proxy_server.ts";
export type { ProxyServerOptions } from "./proxy_server.ts";
export type { CertSource, TlsCert } from "./tls_server.ts";
export { createProxyHandler } from "./proxy_handler.ts";
export type { ConnInfo, ProxyHandlerOptions } from "./proxy_handler.ts";
