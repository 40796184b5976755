/**
 * @module
 * Split a stream of byte chunks (an HTTP body, a process pipe, a Docker log
 * stream) into text lines.
 */

/**
 * Yields each `\n`-terminated line without its `\n` (and, with `crlf`,
 * without a `\r` before it), then the unterminated rest if not empty. UTF-8
 * sequences split across chunks are decoded whole.
 */
export async function* lines(
  chunks: AsyncIterable<Uint8Array>,
  opts: { crlf?: boolean } = {},
): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    rest += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl);
      yield opts.crlf ? line.replace(/\r$/, "") : line;
      rest = rest.slice(nl + 1);
    }
  }
  rest += dec.decode();
  if (rest) yield rest;
}
