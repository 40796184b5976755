import assert from "node:assert/strict";
import { spec, startBackend, startProxy } from "./_proxy_helpers.ts";
import type { CertSource, TlsCert } from "../lib/proxy/tls_server.ts";

async function selfSigned(dir: string, cn: string): Promise<TlsCert> {
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=DNS:${cn.split(" ")[0]}`,
      "-keyout",
      `${dir}/k.pem`,
      "-out",
      `${dir}/c.pem`,
    ],
    stderr: "null",
  }).output();
  assert.ok(out.success, "openssl failed");
  return {
    cert: await Deno.readTextFile(`${dir}/c.pem`),
    key: await Deno.readTextFile(`${dir}/k.pem`),
  };
}

async function curl(host: string, port: number, path = "/") {
  const out = await new Deno.Command("curl", {
    args: [
      "-sk",
      "-v",
      "--http2",
      "--max-time",
      "5",
      "--resolve",
      `${host}:${port}:127.0.0.1`,
      `https://${host}:${port}${path}`,
    ],
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  return {
    body: new TextDecoder().decode(out.stdout),
    subject: /subject: CN\s*=\s*([^\n;,]+)/.exec(err)?.[1]?.trim(),
    http2: /using HTTP\/2|< HTTP\/2/.test(err),
    hsts: /strict-transport-security: max-age=\d+/i.test(err),
  };
}

Deno.test("HTTPS picks the certificate by SNI, speaks HTTP/2, adds HSTS, picks up changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "proxy_tls_" });
  const certs = new Map<string, TlsCert>();
  certs.set("a.test", await selfSigned(dir, "a.test"));
  certs.set("b.test", await selfSigned(dir, "b.test"));
  const fallback = await selfSigned(dir, "default.test");
  const listeners = new Set<() => void>();
  const source: CertSource = {
    get: (h) => certs.get(h),
    defaultCert: () => fallback,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const p = await startProxy({ certs: source });
  const web = startBackend("web");
  try {
    p.router.setService(spec("web", ["https://a.test/", "https://b.test/"]));
    p.router.addUpstream("web", { id: "w", url: web.url });
    const port = p.httpsPort!;
    const a = await curl("a.test", port);
    assert.equal(a.body, "web");
    assert.equal(a.subject, "a.test");
    assert.ok(a.http2, "HTTP/2 negotiated by ALPN");
    assert.ok(a.hsts, "HSTS on an https route");
    assert.equal((await curl("b.test", port)).subject, "b.test");
    assert.equal((await curl("other.test", port)).subject, "default.test");
    // renewal: a new certificate for a.test is served after onChange
    certs.set("a.test", await selfSigned(dir, "a.test renewed"));
    for (const cb of listeners) cb();
    assert.equal((await curl("a.test", port)).subject, "a.test renewed");
    assert.equal(p.server.httpsAddr?.port, port, "same port after rebind");
  } finally {
    await p.stop();
    await web.close();
    await Deno.remove(dir, { recursive: true });
  }
});
