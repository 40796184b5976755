/**
 * Runs Debian's `pebble` ACME test server on loopback for the e2e tests:
 * a throwaway CA for pebble's own HTTPS listener, a tiny DNS server that
 * answers every name with 127.0.0.1 (so pebble validates HTTP-01 against
 * the test's challenge listener), ephemeral ports, cleanup in close().
 */
import dgram from "node:dgram";
import tls from "node:tls";
import type { Clock } from "../../lib/acme/clock.ts";
import * as x509 from "@peculiar/x509";
import { until } from "../_until.ts";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A running pebble. */
export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** PEM file of the CA that signed pebble's HTTPS certificate. */
  caFile: string;
  /** PEM of the root that signs issued certificates (management /roots/0). */
  issuingRoot(): Promise<string>;
  close(): Promise<void>;
}

/** Starts pebble validating HTTP-01 on 127.0.0.1:`httpPort`. */
export async function startPebble(
  opts: { httpPort: number; dir: string },
): Promise<Pebble> {
  const { dir } = opts;
  const tlsCa = await makeListenerCert();
  const caFile = `${dir}/pebble-listener-ca.pem`;
  await Deno.writeTextFile(caFile, tlsCa.caCert);
  await Deno.writeTextFile(`${dir}/pebble-cert.pem`, tlsCa.cert);
  await Deno.writeTextFile(`${dir}/pebble-key.pem`, tlsCa.key);
  const dns = await startLoopbackDns();
  const [acmePort, mgmtPort] = [freePort(), freePort()];
  await Deno.writeTextFile(
    `${dir}/pebble.json`,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: `${dir}/pebble-cert.pem`,
        privateKey: `${dir}/pebble-key.pem`,
        httpPort: opts.httpPort,
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child = new Deno.Command("pebble", {
    args: [
      "-config",
      `${dir}/pebble.json`,
      "-dnsserver",
      `127.0.0.1:${dns.port}`,
    ],
    env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_VA_ALWAYS_VALID: "0" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const client = Deno.createHttpClient({ caCerts: [tlsCa.caCert] });
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await stderr;
    client.close();
    await dns.close();
  };
  try {
    await waitFor(async () => {
      const res = await fetch(directory, { client });
      await res.body?.cancel();
      return res.ok;
    }, 15_000);
  } catch (err) {
    await close();
    throw new Error(
      `pebble did not come up on ${directory}: ${
        (err as Error).message
      }\n${await stderr}`,
    );
  }
  return {
    directory,
    caFile,
    issuingRoot: async () => {
      const res = await fetch(`https://127.0.0.1:${mgmtPort}/roots/0`, {
        client,
      });
      if (!res.ok) throw new Error(`pebble /roots/0 answered ${res.status}`);
      return await res.text();
    },
    close,
  };
}

/** Real time plus an offset; jump() moves time and fires pending timers now. */
export class SkewClock implements Clock {
  offset = 0;
  #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  now = () => Date.now() + this.offset;
  setTimeout = (cb: () => void, ms: number) => {
    const id = setTimeout(() => {
      this.#timers.delete(id);
      cb();
    }, ms);
    this.#timers.set(id, cb);
    return id;
  };
  clearTimeout = (id: unknown) => {
    const timer = id as ReturnType<typeof setTimeout>;
    clearTimeout(timer);
    this.#timers.delete(timer);
  };
  jump(ms: number): void {
    this.offset += ms;
    for (const [id, cb] of [...this.#timers]) {
      this.clearTimeout(id);
      cb();
    }
  }
}

/** A hex serial without leading zeros, lower case. */
export function hex(serial: string | undefined): string {
  return (serial ?? "").toLowerCase().replace(/^0+/, "");
}

/** Handshakes with SNI `name`, trusting only `ca`; the peer's serial (hex). */
export function handshake(
  port: number,
  name: string,
  ca: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: name,
      ca: [ca],
    }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(hex(String(serial)));
    });
    socket.on("error", reject);
  });
}

/** An ephemeral port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Polls `check` until it returns true; throws after `timeout` ms. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeout: number,
): Promise<void> {
  await until(check, { timeoutMs: timeout, intervalMs: 50 });
}

/** A CA and a 127.0.0.1/localhost certificate for pebble's HTTPS listener. */
async function makeListenerCert() {
  const now = Date.now();
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=mypaas test pebble listener CA",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=localhost",
    issuer: ca.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
      ]),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    caCert: ca.toString("pem") + "\n",
    cert: leaf.toString("pem") + "\n",
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}

/** UDP DNS on 127.0.0.1: A 127.0.0.1 for every name, no other records. */
async function startLoopbackDns(): Promise<
  { port: number; close(): Promise<void> }
> {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const answer = dnsAnswer(msg);
    if (answer) sock.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return {
    port: sock.address().port,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** Builds the reply to one DNS query (RFC 1035 4.1), or undefined if malformed. */
function dnsAnswer(query: Uint8Array): Uint8Array | undefined {
  let off = 12;
  while (off < query.length && query[off] !== 0) off += query[off]! + 1;
  const questionEnd = off + 5; // zero label, QTYPE, QCLASS
  if (questionEnd > query.length) return undefined;
  const qtype = (query[off + 1]! << 8) | query[off + 2]!;
  const isA = qtype === 1;
  const out = new Uint8Array(questionEnd + (isA ? 16 : 0));
  out.set(query.subarray(0, questionEnd));
  const view = new DataView(out.buffer);
  view.setUint16(2, 0x8180); // response, recursion desired+available, NOERROR
  view.setUint16(4, 1);
  view.setUint16(6, isA ? 1 : 0);
  view.setUint16(8, 0);
  view.setUint16(10, 0);
  if (isA) {
    // name pointer to the question, A, IN, TTL 60, 4 bytes: 127.0.0.1
    out.set(
      [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1],
      questionEnd,
    );
  }
  return out;
}
