import {
  checkPublish,
  checkVolumes,
  containerConfig,
  latestBases,
  readIgnoreList,
} from "../lib/services/mod.ts";
import { InputError } from "../lib/errors.ts";
import { assert, assertEquals, assertRejects } from "./_docker_contract.ts";
import { makeSpec, testConfig } from "./_deploy_fixture.ts";

const config = testConfig("/srv/mypaas", { volumeRoot: "/srv" });
const MiB = 1024 * 1024;

Deno.test("containerConfig() applies env, MYPAAS_* vars, volumes, publish and restart policy", () => {
  const spec = makeSpec("web", {
    env: { SECRET: "s3cret", A: "1" },
    port: 8080,
    scale: { strategy: "rolling", replicas: 3 },
    volumes: [
      { kind: "bind", source: "/srv/data/../data/web", target: "/data" },
      { kind: "volume", source: "webvol", target: "/cache" },
    ],
    publish: [{ hostPort: 5353, containerPort: 53, protocol: "udp" }],
  });
  const c = containerConfig(spec, {
    name: "web-4-2",
    image: "mypaas/web:4",
    network: "net",
    labels: { a: "b" },
    log: { maxSize: 1024, maxFiles: 1 },
  });
  assertEquals(c.env, {
    SECRET: "s3cret",
    A: "1",
    MYPAAS_SERVICE: "web",
    MYPAAS_SCALE: "3",
    MYPAAS_PORT: "8080",
    MYPAAS_CONTAINER: "web-4-2",
  });
  assertEquals(c.mounts, [
    { kind: "bind", source: "/srv/data/web", target: "/data" },
    { kind: "volume", source: "webvol", target: "/cache" },
  ]);
  assertEquals(c.publish, [{
    hostPort: 5353,
    containerPort: 53,
    protocol: "udp",
  }]);
  assertEquals(c.restart, "unless-stopped");
  assertEquals(c.network, "net");
  assertEquals(c.cpus, undefined);
});

Deno.test("containerConfig() limits default to twice the request unless maxcpu/maxmem given", () => {
  const base = {
    name: "x",
    image: "i",
    network: "n",
    labels: {},
    log: { maxSize: 1024, maxFiles: 1 },
  };
  const req = containerConfig(
    makeSpec("w", { request: { cpu: 0.25, mem: 64 * MiB } }),
    base,
  );
  assertEquals(
    [req.cpus, req.memory, req.cpuReservation, req.memoryReservation],
    [0.5, 128 * MiB, 0.25, 64 * MiB],
  );
  const max = containerConfig(
    makeSpec("w", {
      request: { cpu: 0.25, mem: 64 * MiB },
      maxcpu: 1.5,
      maxmem: 300 * MiB,
    }),
    base,
  );
  assertEquals([max.cpus, max.memory], [1.5, 300 * MiB]);
});

Deno.test("checkVolumes() accepts host paths under volume_root and named volumes", async () => {
  await checkVolumes(
    makeSpec("w", {
      volumes: [
        { kind: "bind", source: "/srv/data/w", target: "/d" },
        { kind: "volume", source: "anything", target: "/v" },
      ],
    }),
    config,
  );
});

for (
  const [source, why] of [
    ["/etc", "must lie under /srv"],
    ["/srv/../etc/passwd", "must lie under /srv"],
    ["/srv/mypaas/certs", "mypaas data directory"],
    ["/srv", "mypaas data directory"],
    ["/srv/home/.ssh", ".ssh"],
    ["relative/path", "absolute"],
  ]
) {
  Deno.test(`checkVolumes() rejects ${source} (${why})`, async () => {
    await assertRejects(
      () =>
        checkVolumes(
          makeSpec("w", {
            file: "app/Dockerfile",
            volumes: [{ kind: "bind", source: source!, target: "/d" }],
          }),
          config,
        ),
      InputError,
      why,
    );
  });
}

Deno.test("latestBases() lists only FROM lines that use :latest", () => {
  assertEquals(
    latestBases(
      "FROM a:latest AS build\nfrom --platform=linux/amd64 b:latest\nFROM c:1\nFROM d\n# FROM e:latest\n",
    ),
    ["a:latest", "b:latest"],
  );
});

Deno.test("readIgnoreList() reads mypaas.toml ignore and rejects a bad one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(await readIgnoreList(dir), []);
    await Deno.writeTextFile(
      `${dir}/mypaas.toml`,
      'ignore = ["*.md", "tmp"]\n',
    );
    assertEquals(await readIgnoreList(dir), ["*.md", "tmp"]);
    await Deno.writeTextFile(`${dir}/mypaas.toml`, "ignore = 3\n");
    await assertRejects(
      () => readIgnoreList(dir),
      InputError,
      "array of strings",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkPublish() allows publish only when one container at a time holds the port", () => {
  const publish = [{
    hostPort: 8081,
    containerPort: 80,
    protocol: "tcp" as const,
  }];
  checkPublish(makeSpec("w", { publish }));
  checkPublish(
    makeSpec("w", { publish, scale: { strategy: "safe", replicas: 1 } }),
  );
  for (
    const scale of [
      { strategy: "rolling" as const, replicas: 1 },
      { strategy: "safe" as const, replicas: 2 },
    ]
  ) {
    let err: unknown;
    try {
      checkPublish(makeSpec("w", { file: "app/Dockerfile", publish, scale }));
    } catch (e) {
      err = e;
    }
    assert(err instanceof InputError, String(err));
    assert(
      err.message.startsWith("app/Dockerfile: mypaas.publish"),
      err.message,
    );
  }
});
