import { DockerRuntime } from "../../lib/docker/mod.ts";
import { dockerContract } from "../_docker_contract.ts";
import {
  docker,
  ensureBusyboxImage,
  removeByLabel,
  removeImages,
} from "./_images.ts";

dockerContract("DockerRuntime", async () => {
  const baseImage = await ensureBusyboxImage();
  return {
    runtime: new DockerRuntime("/var/run/docker.sock"),
    baseImage,
    cleanup: async (tag) => {
      await removeByLabel(`mypaas-test=${tag}`);
      await removeImages(`mypaas-test/${tag}`);
      await docker(["volume", "rm", "-f", `${tag}-vol`], { allowFail: true });
      await docker(["network", "rm", `${tag}-net`], { allowFail: true });
    },
  };
});
