import assert from "node:assert/strict";
import { readSpec } from "../../lib/spec/mod.ts";
import {
  docker,
  ensureBusyboxImage,
  removeByLabel,
  TEST_LABEL,
  uniqueName,
} from "./_images.ts";

const EXAMPLE = new URL("../../examples/hello-container", import.meta.url)
  .pathname;

Deno.test("examples/hello-container builds, runs and passes its own healthcheck", async () => {
  await ensureBusyboxImage();
  const spec = await readSpec(EXAMPLE, { env: {}, home: "/root" });
  assert.equal(spec.kind, "service");
  if (spec.kind !== "service") return;
  assert.ok(spec.healthcheck, "the example declares a healthcheck");
  const name = uniqueName("mypaas-test-spec-example");
  const label = `${TEST_LABEL}=${name}`;
  try {
    await docker(["build", "-q", "--label", label, "-t", name, EXAMPLE]);
    const id = (await docker([
      "run",
      "-d",
      "--label",
      label,
      "-p",
      `127.0.0.1::${spec.port}`,
      name,
    ])).stdout.trim();
    const mapped = (await docker(["port", id, String(spec.port)])).stdout;
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(mapped)?.[1]);
    assert.ok(port > 0, `no published port in ${JSON.stringify(mapped)}`);
    const deadline = Date.now() + 15_000;
    let status = 0, body = "";
    while (Date.now() < deadline) {
      try {
        const res = await fetch(
          `http://127.0.0.1:${port}${spec.healthcheck.path}`,
          { signal: AbortSignal.timeout(spec.healthcheck.timeoutMs) },
        );
        status = res.status;
        body = await res.text();
        if (status === 200) break;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
    assert.match(body, /Hello from mypaas/);
  } finally {
    await removeByLabel(label);
    await docker(["rmi", "-f", name], { allowFail: true });
  }
});
