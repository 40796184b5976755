import assert from "node:assert/strict";
import { CacheStore } from "../lib/cache/cache_store.ts";
import { makeLogger } from "../lib/log.ts";
import { S3Server } from "./_s3rver.ts";
import { until } from "./_until.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const opts = { sanitizeOps: false, sanitizeResources: false };

function capture() {
  const lines: string[] = [];
  return { lines, log: makeLogger("t", "debug", (l) => lines.push(l)) };
}

async function open(dir: string, s3: S3Server | null, maxSize = 1 << 20) {
  const { lines, log } = capture();
  const store = await CacheStore.open({
    dir,
    maxSize,
    s3: s3 ? s3.options() : null,
    log,
  });
  return { store, lines };
}

Deno.test("CacheStore: put, get, has, list, delete on the local tier", async () => {
  const dir = await Deno.makeTempDir();
  const { store } = await open(dir, null);
  await store.put("idx/a", enc.encode("one"));
  await store.put("idx/b", enc.encode("two"));
  assert.equal(dec.decode((await store.get("idx/a"))!), "one");
  assert.equal(await store.has("idx/b"), true);
  assert.deepEqual(await store.list("idx/"), ["idx/a", "idx/b"]);
  await store.delete("idx/a");
  assert.equal(await store.get("idx/a"), null);
  await assert.rejects(() => store.get("../etc/passwd"), TypeError);
  const h = await store.putBlob(enc.encode("blob"));
  assert.equal(dec.decode((await store.getBlob(h))!), "blob");
  store.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  "CacheStore: a corrupt local copy is dropped and read again from the bucket",
  opts,
  async () => {
    const s3 = await S3Server.start();
    const dir = await Deno.makeTempDir();
    const { store } = await open(dir, s3);
    const h = await store.putBlob(enc.encode("the bundle"));
    await store.flushed();
    assert.deepEqual(await s3.objects(), [`cas/${h}`]);
    // flip bytes of the local copy
    const file = `${dir}/objects/cas/${h}`;
    const bytes = await Deno.readFile(file);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    await Deno.writeFile(file, bytes);
    assert.equal(dec.decode((await store.getBlob(h))!), "the bundle");
    assert.equal(store.status().corrupt, 1);
    assert.equal(store.status().bucketHits, 1);
    // refilled: the next read is local again
    assert.equal(dec.decode((await store.getBlob(h))!), "the bundle");
    assert.equal(store.status().hits, 1);
    // and a missing local copy too
    await Deno.remove(file);
    assert.equal(dec.decode((await store.getBlob(h))!), "the bundle");
    store.stop();
    await s3.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "CacheStore: a full local tier evicts the least recently used; the bucket still has it",
  opts,
  async () => {
    const s3 = await S3Server.start();
    const dir = await Deno.makeTempDir();
    const { store } = await open(dir, s3, 3000);
    const blob = (c: number) => new Uint8Array(1000).fill(c);
    const a = await store.putBlob(blob(1));
    const b = await store.putBlob(blob(2));
    await store.getBlob(a); // a is now more recent than b
    const c = await store.putBlob(blob(3));
    await store.flushed();
    assert.equal(await store.local.has(`cas/${b}`), false, "b evicted");
    assert.equal(await store.local.has(`cas/${a}`), true);
    assert.ok(store.status().local.size <= 3000);
    assert.deepEqual((await store.getBlob(b))![0], 2, "b read from the bucket");
    // larger than the whole local tier: kept in the bucket only
    const big = await store.putBlob(new Uint8Array(5000).fill(9));
    await store.flushed();
    assert.equal(await store.local.has(`cas/${big}`), false);
    assert.equal((await store.getBlob(big))!.length, 5000);
    assert.ok(await store.has(`cas/${c}`));
    store.stop();
    await s3.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("CacheStore: local only, an object over max_size is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  const { store } = await open(dir, null, 100);
  await assert.rejects(
    () => store.put("x", new Uint8Array(200)),
    /larger than \[cache\] max_size/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  "CacheStore: the bucket stopped mid-upload loses nothing, across a restart",
  opts,
  async () => {
    const s3 = await S3Server.start();
    const dir = await Deno.makeTempDir();
    const first = await open(dir, s3, 8 << 20);
    const data = new Uint8Array(2 << 20).fill(7);
    const put = first.store.put("big/one", data);
    await s3.stop(); // while the upload is on its way
    await put;
    await first.store.put("big/two", enc.encode("second"));
    await until(() => first.store.status().bucket?.state === "unreachable");
    assert.equal(first.store.status().bucket?.pending, 2);
    first.store.stop(); // the daemon goes away with writes pending
    const second = await open(dir, null, 8 << 20);
    second.store.stop();
    // a new daemon on the same data dir, bucket still down
    const third = await open(dir, s3, 8 << 20);
    assert.equal(third.store.status().bucket?.pending, 2);
    assert.ok(
      third.lines.some((l) => /ERROR .*unreachable/.test(l)),
      third.lines.join("\n"),
    );
    await s3.start();
    third.store.queue!.retryNow();
    await third.store.flushed();
    assert.deepEqual(await s3.objects("big/"), ["big/one", "big/two"]);
    assert.equal(third.store.status().bucket?.state, "ok");
    // the bucket's copy is whole
    await Deno.remove(`${dir}/objects/big/one`);
    assert.equal((await third.store.get("big/one"))!.length, data.length);
    third.store.stop();
    await s3.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "CacheStore: a wrong key is one clear log line at start; writes wait",
  opts,
  async () => {
    const s3 = await S3Server.start();
    const dir = await Deno.makeTempDir();
    const { lines, log } = capture();
    const store = await CacheStore.open({
      dir,
      maxSize: 1 << 20,
      s3: s3.options({ accessKey: "WRONGKEY" }),
      log,
    });
    const errors = lines.filter((l) => l.includes("ERROR"));
    assert.equal(errors.length, 1, lines.join("\n"));
    assert.match(errors[0]!, /refused our credentials .*s3_access_key/);
    assert.equal(store.status().bucket?.state, "denied");
    await store.put("k", enc.encode("v"));
    await until(() => store.status().bucket?.error !== null);
    assert.equal(store.status().bucket?.pending, 1);
    assert.deepEqual(await s3.objects(), []);
    assert.equal(dec.decode((await store.get("k"))!), "v", "served locally");
    store.stop();
    await s3.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "CacheStore: a bucket deleted under us queues writes until it is back",
  opts,
  async () => {
    const s3 = await S3Server.start();
    const dir = await Deno.makeTempDir();
    const { store, lines } = await open(dir, s3);
    await store.put("a", enc.encode("1"));
    await store.flushed();
    await s3.dropBucket();
    await store.put("b", enc.encode("2"));
    await until(() => store.status().bucket?.state === "no-bucket");
    assert.ok(lines.some((l) => /does not exist/.test(l)));
    assert.equal(store.status().bucket?.pending, 1);
    await s3.stop();
    await s3.start(); // s3rver creates the configured bucket again
    store.queue!.retryNow();
    await store.flushed();
    assert.deepEqual(await s3.objects(), ["b"]);
    store.stop();
    await s3.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);
