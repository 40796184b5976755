/**
 * @module
 * Just enough DER (ASN.1) to move keys between the forms MyPaas, OpenSSL and
 * WebCrypto use: read a TLV tree, write SEQUENCE / BIT STRING / OID / NULL.
 */
import { concat } from "../bytes.ts";

/** One decoded DER element. */
export interface Der {
  tag: number;
  /** The content bytes (for constructed types, the encoded children). */
  value: Uint8Array;
  /** Children of a constructed element (SEQUENCE, SET, [n]). */
  children: Der[];
}

/** Parses one DER element (and its children) from the start of `bytes`. */
export function readDer(bytes: Uint8Array): Der {
  const [der] = readOne(bytes, 0);
  return der;
}

function readOne(bytes: Uint8Array, at: number): [Der, number] {
  const tag = bytes[at];
  let len = bytes[at + 1];
  if (tag === undefined || len === undefined) {
    throw new SyntaxError("Truncated DER");
  }
  let pos = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new SyntaxError("Unsupported DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (bytes[pos++] ?? 0);
  }
  if (pos + len > bytes.length) throw new SyntaxError("Truncated DER");
  const value = bytes.subarray(pos, pos + len);
  const children: Der[] = [];
  if (tag & 0x20) {
    let p = 0;
    while (p < value.length) {
      const [child, next] = readOne(value, p);
      children.push(child);
      p = next;
    }
  }
  return [{ tag, value, children }, pos + len];
}

/** Encodes a tag with its content. */
export function tlv(tag: number, value: Uint8Array): Uint8Array<ArrayBuffer> {
  const len = value.length;
  let head: number[];
  if (len < 0x80) head = [tag, len];
  else {
    const lenBytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) {
      lenBytes.unshift(n & 0xff);
    }
    head = [tag, 0x80 | lenBytes.length, ...lenBytes];
  }
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.set(value, head.length);
  return out;
}

/** SEQUENCE of already encoded parts. */
export function sequence(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0x30, concat(parts));
}

/** Encodes a dotted OID. */
export function oid(dotted: string): Uint8Array<ArrayBuffer> {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const groups: number[] = [];
    for (let v = n;; v = Math.floor(v / 128)) {
      groups.unshift(v & 0x7f);
      if (v < 128) break;
    }
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** Decodes OID content bytes to dotted form. */
export function oidString(value: Uint8Array): string {
  const first = value[0] ?? 0;
  const parts = [Math.floor(first / 40), first % 40];
  let n = 0;
  for (const byte of value.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join(".");
}

/** Decodes a small non-negative INTEGER. */
export function intValue(value: Uint8Array): number {
  let n = 0;
  for (const byte of value) n = n * 256 + byte;
  return n;
}
