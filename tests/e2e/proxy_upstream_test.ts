/**
 * The proxy in front of a real busybox httpd container: a client's request
 * that the upstream refuses (a chunked POST answered 501 and closed while
 * the body is still being sent) does not eject the replica, and the
 * upstream's own answer is passed on; a CGI's head printed with `echo`
 * (bare LF line ends) is accepted.
 */
import assert from "node:assert/strict";
import {
  containerIp,
  createTestNetwork,
  docker,
  ensureBusyboxImage,
  removeByLabel,
  TEST_LABEL,
  tryGet,
  uniqueName,
} from "./_images.ts";
import { raw, spec, startProxy } from "../_proxy_helpers.ts";

const CGI = `#!/bin/sh
echo "Content-type: text/plain"
echo "X-From: cgi"
echo
echo "hello from cgi"
`;

Deno.test("e2e: a chunked POST busybox httpd answers 501 and closes mid-body gets the 501 and ejects nothing; a CGI's LF head passes", async () => {
  const image = await ensureBusyboxImage();
  const name = uniqueName("proxy-upstream");
  const label = `${TEST_LABEL}=${name}`;
  const dir = await Deno.makeTempDir({ prefix: "proxy_upstream_" });
  const net = await createTestNetwork("proxy-upstream");
  const p = await startProxy({ proxy: { maxBody: 8 << 20 } });
  try {
    await Deno.mkdir(`${dir}/cgi-bin`, { recursive: true });
    await Deno.writeTextFile(`${dir}/index.html`, "ok");
    await Deno.writeTextFile(`${dir}/cgi-bin/hello`, CGI, { mode: 0o755 });
    await Deno.chmod(`${dir}/cgi-bin/hello`, 0o755);
    await Deno.chmod(dir, 0o755);
    const id = (await docker([
      "run",
      "-d",
      "--label",
      label,
      "--network",
      net.name,
      "-v",
      `${dir}:/www:ro`,
      image,
      "httpd",
      "-f",
      "-p",
      "80",
      "-h",
      "/www",
    ])).stdout.trim();
    const ip = await containerIp(id, net.name);
    const url = `http://${ip}:80`;
    let up = null;
    for (let i = 0; i < 200 && up?.body !== "ok"; i++) {
      up = await tryGet(`${url}/`, 200);
    }
    assert.equal(up?.body, "ok", "busybox httpd did not come up");
    p.router.setService(spec("web", ["http://app.test/"]));
    p.router.addUpstream("web", { id: "web-1", url });

    const chunk = "z".repeat(30 * 1024);
    const body = Array.from(
      { length: 30 }, // 900 KB
      () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    for (let i = 0; i < 5; i++) {
      const r = await raw(p.port, {
        host: "app.test",
        method: "POST",
        headers: { "transfer-encoding": "chunked" },
        body: [...body, "0\r\n\r\n"],
      });
      assert.equal(r.status, 501, `POST ${i}: the upstream's answer`);
      assert.equal(p.router.pool("web")!.usable().length, 1, "not ejected");
      const get = await raw(p.port, { host: "app.test" });
      assert.equal(get.status, 200, `GET after POST ${i}`);
      assert.equal(get.body, "ok");
    }

    const cgi = await raw(p.port, { host: "app.test", path: "/cgi-bin/hello" });
    assert.equal(cgi.status, 200);
    assert.equal(cgi.headers.get("x-from"), "cgi");
    assert.equal(cgi.body, "hello from cgi\n");
  } finally {
    await p.stop();
    await removeByLabel(label);
    await net.remove();
    await Deno.remove(dir, { recursive: true });
  }
});
