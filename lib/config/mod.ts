/**
 * @module
 * config.toml: schema, loading, resolved type.
 */
export * from "./config.ts";
export * from "./load.ts";
export { keyComment, restartKeys, SCHEMA } from "./schema.ts";
export type { KeySchema, KeyType, SectionName } from "./schema.ts";
