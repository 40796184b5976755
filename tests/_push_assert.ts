/** Assertions for the push/keys/api/archive tests: see tests/_assert.ts. */
export {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
