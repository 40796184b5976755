/**
 * @module
 * The container engine port and its two implementations.
 */
export * from "./runtime.ts";
export { DOCKER_API_VERSION, DockerRuntime } from "./docker_runtime.ts";
export { FakeRuntime } from "./fake_runtime.ts";
export { contextFiles } from "./build_context.ts";
