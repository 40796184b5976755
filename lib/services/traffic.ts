/**
 * @module
 * The port through which deploys steer traffic. The proxy implements it
 * (`lib/proxy`); `noTraffic` stands in when no proxy runs (unit tests, and
 * `server deploy` before the proxy is wired).
 */
import type { HttpCheck, ServiceSpec } from "../spec/types.ts";

/** One container (or other endpoint) a service's traffic may go to. */
export interface Upstream {
  /** Stable id, e.g. the container id. */
  id: string;
  /** Base URL, e.g. `http://172.18.0.5:80`. */
  url: string;
  /**
   * The active check of this upstream: its own release's
   * `mypaas.healthcheck`, none when absent. Each upstream keeps the check it
   * was added with, so a new release's check never applies to the old
   * release's replicas.
   */
  healthcheck?: HttpCheck;
  /** The release it runs (named in request spans). */
  release?: string;
}

/** What deploy strategies need from the router. */
export interface TrafficControl {
  /**
   * Throws an `InputError` when one of `spec.urls` is claimed by another
   * service (or function). Called before anything is built or stopped.
   */
  checkUrls(service: string, urls: ServiceSpec["urls"]): void;
  /**
   * Publishes (or updates) the service's routes and balancing settings.
   * Upstreams already added are kept, with their own health checks.
   */
  setService(spec: ServiceSpec): void;
  /**
   * Sends new requests to `upstream` too, checked with `upstream.healthcheck`
   * from now on. Call only once it is healthy.
   */
  addUpstream(service: string, upstream: Upstream): void;
  /**
   * Sends no new requests to the upstream, then resolves once its in-flight
   * requests are done or `timeoutMs` passed.
   */
  drainUpstream(service: string, id: string, timeoutMs: number): Promise<void>;
  /** Removes the service's routes and upstreams. */
  removeService(service: string): void;
}

/** A TrafficControl that routes nothing (no proxy). */
export const noTraffic: TrafficControl = {
  checkUrls() {},
  setService() {},
  addUpstream() {},
  drainUpstream: () => Promise.resolve(),
  removeService() {},
};
