import { DockerRuntime, RuntimeUnavailableError } from "../lib/docker/mod.ts";
import { assert, assertRejects } from "./_docker_contract.ts";

Deno.test("DockerRuntime turns a socket nobody answers on into RuntimeUnavailableError naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rt = new DockerRuntime(`${dir}/docker.sock`);
    const err = await assertRejects(() => rt.list({}), RuntimeUnavailableError);
    assert(
      err.message.includes(`${dir}/docker.sock does not answer`),
      err.message,
    );
    assert(err.message.includes("[docker] socket"), err.message);
    await assertRejects(
      () => rt.ping(),
      RuntimeUnavailableError,
      "does not answer",
    );
    await assertRejects(() => rt.inspect("x"), RuntimeUnavailableError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
