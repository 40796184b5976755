import assert from "node:assert/strict";
import { DomainWatch } from "../lib/acme/domain_watch.ts";
import { isAcmeName } from "../lib/acme/acme_manager.ts";
import { makeLogger } from "../lib/log.ts";
import { until } from "./isolates_helpers.ts";

Deno.test("DomainWatch.sync() calls ensure() only when the host set changes", async () => {
  let hosts = ["b.test", "A.test"];
  const calls: string[][] = [];
  const watch = new DomainWatch({
    source: () => hosts,
    sink: {
      ensure: (d) => {
        calls.push(d);
        return Promise.resolve();
      },
    },
    always: ["admin.test"],
    interval: 60_000,
  });
  await watch.start();
  await watch.sync();
  assert.deepEqual(calls, [["a.test", "admin.test", "b.test"]]);
  hosts = ["a.test"];
  await watch.sync();
  await watch.sync();
  assert.deepEqual(calls.at(-1), ["a.test", "admin.test"]);
  assert.equal(calls.length, 2);
  await watch.stop();
  await watch.stop();
});

/** A sink whose ensure() fails ("disk full") while `fail` is set. */
function flakySink() {
  const state = { fail: true, calls: 0 };
  const sink = {
    ensure: () => {
      state.calls++;
      return state.fail
        ? Promise.reject(new Error("disk full"))
        : Promise.resolve();
    },
  };
  return { state, sink };
}

Deno.test("DomainWatch retries a set whose ensure() failed", async () => {
  const { state, sink } = flakySink();
  const watch = new DomainWatch({ source: () => ["x.test"], sink });
  await assert.rejects(watch.sync(), /disk full/);
  state.fail = false;
  await watch.sync();
  await watch.sync();
  assert.equal(state.calls, 2);
});

Deno.test("DomainWatch logs a sync that keeps failing once, not on every poll, and says when it works again", async () => {
  const { state, sink } = flakySink();
  const lines: string[] = [];
  const watch = new DomainWatch({
    source: () => ["x.test"],
    sink,
    interval: 1,
    log: makeLogger("tls", "info", (l) => lines.push(l)),
  });
  await watch.start();
  try {
    assert.ok(await until(() => state.calls >= 20), `${state.calls} polls`);
    assert.deepEqual(lines.map((l) => l.replace(/^\S+ /, "")), [
      "ERROR tls: Domain sync failed: disk full",
    ]);
    state.fail = false;
    assert.ok(await until(() => lines.length === 2), lines.join("\n"));
    assert.match(lines[1]!, /Domain sync works again after \d+ failures/);
  } finally {
    await watch.stop();
  }
});

Deno.test("isAcmeName() leaves localhost, IPs, single labels and wildcards to self-signed", () => {
  for (
    const name of [
      "localhost",
      "a.localhost",
      "127.0.0.1",
      "intranet",
      "*.a.test",
    ]
  ) {
    assert.equal(isAcmeName(name), false, name);
  }
  assert.equal(isAcmeName("app.example.com"), true);
  assert.equal(isAcmeName("one.test"), true);
});
