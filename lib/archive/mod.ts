/**
 * @module
 * Upload archives: safe extraction on the server, packing on the client.
 */
export { extractArchive, type ExtractResult, sniffFormat } from "./extract.ts";
export {
  ArchiveError,
  type ExtractLimits,
  safeRelativePath,
} from "./writer.ts";
export { packDir, type PackOptions, readIgnoreRules } from "./pack.ts";
