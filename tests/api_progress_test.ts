/**
 * The progress stream: heartbeat lines while the operation is silent (so
 * the connection guard never sees an idle connection), which our client
 * skips; a stream cut before its marker is "result unknown", not a throw.
 */
import { readStream } from "../lib/api/client.ts";
import {
  HEARTBEAT,
  isHeartbeat,
  parseMarker,
  progressResponse,
} from "../lib/api/progress_stream.ts";
import { assert, assertEquals, assertStringIncludes } from "./_push_assert.ts";

Deno.test("a silent operation gets heartbeat lines; the client skips them and reads the marker", async () => {
  const { promise: beaten, resolve: beat } = Promise.withResolvers<void>();
  const res = progressResponse(
    "deploy",
    async (progress) => {
      progress("building");
      await beaten; // silent until a heartbeat went out
      progress("built");
      return { ok: true, release: 4 };
    },
    () => {},
    { heartbeatMs: 20 },
  );
  const raw: string[] = [];
  const [a, b] = res.body!.tee();
  const rawDone = (async () => {
    const dec = new TextDecoder();
    let text = "";
    for await (const chunk of a) {
      text += dec.decode(chunk);
      if (text.includes(HEARTBEAT)) beat();
    }
    raw.push(...text.split("\n").filter(Boolean));
  })();
  const shown: string[] = [];
  const end = await readStream(new Response(b), (l) => shown.push(l));
  await rawDone;
  assertEquals(end, { status: "ok", detail: "release 4" });
  assertEquals(shown, ["building", "built"]);
  const beats = raw.filter(isHeartbeat);
  assert(beats.length >= 1, raw.join("\n"));
  // a heartbeat never parses as the marker
  assertEquals(beats.map(parseMarker).filter(Boolean), []);
});

Deno.test("a stream cut before its marker is 'missing' (result unknown), not a throw", async () => {
  let n = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (n++ === 0) c.enqueue(new TextEncoder().encode("Step 1/3\n"));
      else c.error(new TypeError("error reading a body from connection"));
    },
  });
  const shown: string[] = [];
  const end = await readStream(new Response(body), (l) => shown.push(l));
  assertEquals(end.status, "missing");
  assertStringIncludes(end.detail, "error reading a body");
  assertEquals(shown, ["Step 1/3"]);
});
