import assert from "node:assert/strict";
import { spec, specUrl, startBackend, startProxy } from "./_proxy_helpers.ts";
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

Deno.test("refused HTTP/2 POSTs with a body get their 403, not a stream reset (curl --http2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "proxy_tls_" });
  const cert = await selfSigned(dir, "admin.test");
  const p = await startProxy({
    certs: {
      get: () => cert,
      defaultCert: () => cert,
      onChange: () => () => {},
    },
    proxy: { maxBody: 4 << 20 },
  });
  // a refusal before the upload is read, as the push route's bad token
  p.router.setAdminHandler(() =>
    Promise.resolve(new Response("Access denied: bad token\n", { status: 403 }))
  );
  try {
    await Deno.writeFile(`${dir}/body`, new Uint8Array(1_000_000));
    const port = p.httpsPort!;
    const failed: string[] = [];
    for (let i = 0; i < 20; i++) {
      const out = await new Deno.Command("curl", {
        args: [
          "-sk",
          "--http2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          "--max-time",
          "10",
          "--resolve",
          `admin.test:${port}:127.0.0.1`,
          "--data-binary",
          `@${dir}/body`,
          `https://admin.test:${port}/daemon/push?id=x`,
        ],
      }).output();
      const got = `${out.code} ${new TextDecoder().decode(out.stdout)}`;
      if (got !== "0 2 403") failed.push(got);
    }
    assert.deepEqual(failed, [], `${failed.length} of 20 refusals broke`);
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in-process refusals over HTTP/2 (431, 413, 404, a function's) discard the body and answer with their status, not a stream reset", async () => {
  const dir = await Deno.makeTempDir({ prefix: "proxy_tls_" });
  const cert = await selfSigned(dir, "a.test");
  const p = await startProxy({
    certs: {
      get: () => cert,
      defaultCert: () => cert,
      onChange: () => () => {},
    },
    proxy: { maxBody: 768 << 10, maxHeader: 4096 },
  });
  // a function that refuses without reading its body
  p.router.setHandler(
    "fn",
    [specUrl("https://fn.test/")],
    () => Promise.resolve(new Response("no\n", { status: 403 })),
  );
  try {
    await Deno.writeFile(`${dir}/big`, new Uint8Array(1_000_000));
    await Deno.writeFile(`${dir}/body`, new Uint8Array(600_000));
    const port = p.httpsPort!;
    const post = async (host: string, extra: string[] = [], file = "body") => {
      const out = await new Deno.Command("curl", {
        args: [
          "-sk",
          "--http2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          "--max-time",
          "10",
          "--resolve",
          `${host}:${port}:127.0.0.1`,
          "--data-binary",
          `@${dir}/${file}`,
          ...extra,
          `https://${host}:${port}/x`,
        ],
      }).output();
      return `${out.code} ${new TextDecoder().decode(out.stdout)}`;
    };
    const cases: [string, () => Promise<string>, string][] = [
      [
        "a head too large",
        () => post("a.test", ["-H", `x-big: ${"b".repeat(8000)}`]),
        "0 2 431",
      ],
      [
        "a declared body over max_body",
        () => post("a.test", [], "big"),
        "0 2 413",
      ],
      ["a host with no route", () => post("nothing.test"), "0 2 404"],
      ["a function's refusal", () => post("fn.test"), "0 2 403"],
    ];
    const failed: string[] = [];
    for (const [what, run, want] of cases) {
      for (let i = 0; i < 5; i++) {
        const got = await run();
        if (got !== want) failed.push(`${what}: ${got}, want ${want}`);
      }
    }
    assert.deepEqual(failed, []);
  } finally {
    await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an HTTP/2 request (no Host header, only :authority) reaches the upstream with Host", async () => {
  const dir = await Deno.makeTempDir({ prefix: "proxy_tls_" });
  const cert = await selfSigned(dir, "a.test");
  const p = await startProxy({
    certs: {
      get: () => cert,
      defaultCert: () => cert,
      onChange: () => () => {},
    },
  });
  const web = startBackend(
    "web",
    (req) => new Response(req.headers.get("host")),
  );
  try {
    p.router.setService(spec("web", ["https://a.test/"]));
    p.router.addUpstream("web", { id: "w", url: web.url });
    const r = await curl("a.test", p.httpsPort!);
    assert.ok(r.http2, "HTTP/2 negotiated by ALPN");
    assert.equal(r.body, `a.test:${p.httpsPort}`);
  } finally {
    await p.stop();
    await web.close();
    await Deno.remove(dir, { recursive: true });
  }
});
