/**
 * Issue 11.8: a URL on the admin domain is refused when the spec is read
 * for a deploy, for services and functions (`--domain`), following the live
 * config (a reload updates `[server] domain` in place).
 */
import { resolveConfig } from "../lib/config/mod.ts";
import { readSpecForDeploy } from "../lib/daemon/read_spec.ts";
import { InputError } from "../lib/errors.ts";
import { assert, assertEquals } from "./_push_assert.ts";

async function refusal(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof InputError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

Deno.test("a service or function URL on the admin domain is refused (409), following a reload", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas_admin_" });
  try {
    const config = resolveConfig(
      `[server]\ndomain = "Paas.Example.com"\ndata_dir = "${dir}/data"\n`,
      { home: dir },
    );
    const read = readSpecForDeploy(config, dir);
    await Deno.mkdir(`${dir}/svc`);
    await Deno.writeTextFile(
      `${dir}/svc/Dockerfile`,
      "FROM busybox\n# mypaas.service=web\n# mypaas.url=https://paas.example.com/blog\n",
    );
    let err = await refusal(read(`${dir}/svc`, { displayDir: "." }));
    assertEquals(err.status, 409);
    assert(err.message.startsWith("Dockerfile: URL"), err.message);
    assert(err.message.includes("admin domain"), err.message);

    await Deno.mkdir(`${dir}/fn`);
    await Deno.writeTextFile(
      `${dir}/fn/main.ts`,
      "export default { fetch: () => new Response('x') };\n",
    );
    err = await refusal(
      read(`${dir}/fn`, { domains: ["paas.example.com"], displayDir: "." }),
    );
    assertEquals(err.status, 409);
    assert(err.message.startsWith("main.ts: URL"), err.message);

    // a reload moves the admin domain: the old one is free, the new refused
    config.server.domain = "admin.example.com";
    assertEquals(
      (await read(`${dir}/svc`, {})).urls[0]!.host,
      "paas.example.com",
    );
    await refusal(read(`${dir}/fn`, { domains: ["admin.example.com"] }));
    assertEquals(
      (await read(`${dir}/fn`, { domains: ["other.example.com"] })).kind,
      "function",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
