/**
 * Dead-container pruning on the real Docker engine: containers of an
 * earlier release that exited (one stopped, one killed with no restart
 * policy, as after a crash) are gone after the next deploy, and the new
 * release's containers run and answer. `prune()` itself is checked on the
 * engine's own states too.
 */
import { assertEquals } from "../_docker_contract.ts";
import { prune } from "../../lib/services/releases.ts";
import { deployEnv } from "./_deploy_env.ts";
import { docker, tryGet } from "./_images.ts";

/** Every container of `service` (running or not) as "name state", sorted. */
async function containers(service: string): Promise<string[]> {
  const ps = await docker([
    "ps",
    "-a",
    "--filter",
    `label=mypaas.service=${service}`,
    "--format",
    "{{.Names}} {{.State}}",
  ]);
  return ps.stdout.split("\n").filter(Boolean).sort();
}

Deno.test("e2e: a deploy removes an earlier release's exited and crashed containers and the new ones keep running", async () => {
  await using t = await deployEnv();
  const s = t.service;
  await t.write({ body: "v1" });
  const first = await t.deployer.deploy(
    t.spec({ scale: { strategy: "rolling", replicas: 3 } }),
    t.app,
    () => {},
  );
  assertEquals(first.ok, true, first.error);
  await docker(["stop", "-t", "1", `${s}-1-2`]);
  // a crash that the restart policy does not undo
  await docker(["update", "--restart=no", `${s}-1-3`]);
  await docker(["kill", `${s}-1-3`]);
  assertEquals(await containers(s), [
    `${s}-1-1 running`,
    `${s}-1-2 exited`,
    `${s}-1-3 exited`,
  ]);

  await t.write({ body: "v2" });
  const second = await t.deployer.deploy(
    t.spec({ scale: { strategy: "rolling", replicas: 2 } }),
    t.app,
    () => {},
  );
  assertEquals(second.ok, true, second.error);
  assertEquals(second.release, 2);
  assertEquals(await containers(s), [`${s}-2-1 running`, `${s}-2-2 running`]);
  const ips = await t.ips();
  assertEquals(ips.length, 2);
  for (const ip of ips) {
    assertEquals((await tryGet(`http://${ip}/`))?.body, "v2");
  }

  // prune() alone: release 2's stopped replica goes once 2 is not current;
  // the running one stays.
  await docker(["stop", "-t", "1", `${s}-2-2`]);
  await prune(t.deployer.ctx, s, 2);
  assertEquals(await containers(s), [`${s}-2-1 running`, `${s}-2-2 exited`]);
  await prune(t.deployer.ctx, s, 3);
  assertEquals(await containers(s), [`${s}-2-1 running`]);
});
