import { FakeRuntime } from "../lib/docker/mod.ts";
import { dockerContract } from "./_docker_contract.ts";

dockerContract("FakeRuntime", () => {
  const runtime = new FakeRuntime();
  const baseImage = "mypaas-test/busybox:1";
  runtime.addImage(baseImage);
  return Promise.resolve({
    runtime,
    baseImage,
    cleanup: () => Promise.resolve(),
  });
});
