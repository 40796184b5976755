/**
 * @module
 * The parts of FakeRuntime that imitate what a real engine would compute:
 * build steps of a Dockerfile, the output of a `sh -c "echo ..."` command,
 * image reference normalising and label matching.
 */
import { BuildError, type ImageSummary, type LogLine } from "./runtime.ts";

/**
 * Walks a Dockerfile's instructions: `FROM` must name a known image, and a
 * `RUN false` / `RUN exit N` fails. Returns the line reporter for the rest
 * of the build; throws BuildError with the lines so far.
 */
export function fakeBuildSteps(
  text: string,
  hasImage: (ref: string) => boolean,
  onLine: (line: string) => void,
): (line: string) => void {
  const last: string[] = [];
  const say = (l: string) => {
    last.push(l);
    onLine(l);
  };
  let step = 0;
  const steps = text.split("\n").filter((l) => /^\s*[A-Z]+\s/.test(l));
  for (const line of steps) {
    say(`Step ${++step}/${steps.length} : ${line.trim()}`);
    const from = /^\s*FROM\s+(\S+)/i.exec(line);
    if (from && !hasImage(from[1]!)) {
      const msg = `pull access denied for ${
        from[1]
      }, repository does not exist`;
      say(msg);
      throw new BuildError(`build failed: ${msg}`, last);
    }
    const run = /^\s*RUN\s+(.*)$/i.exec(line);
    if (run && /^(false|exit [1-9]\d*)$/.test(run[1]!.trim())) {
      const cmd = run[1]!.trim();
      const code = cmd === "false" ? 1 : Number(cmd.slice(5));
      const msg =
        `The command '/bin/sh -c ${cmd}' returned a non-zero code: ${code}`;
      say(msg);
      throw new BuildError(`build failed: ${msg}`, last);
    }
  }
  return say;
}

/** What `sh -c "echo a; echo b >&2; ..."` prints; other commands print nothing. */
export function fakeOutput(cmd: string[] | undefined): LogLine[] {
  const out: LogLine[] = [];
  const script = cmd?.[0] === "sh" ? cmd[2] ?? "" : "";
  for (const part of script.split(";")) {
    const echo = /^\s*echo\s+(.*?)\s*(1?>&2)?\s*$/.exec(part);
    if (echo) {
      out.push({
        stream: echo[2] ? "stderr" : "stdout",
        line: echo[1]!.replace(/^["']|["']$/g, ""),
      });
    }
  }
  return out;
}

/** What the fake keeps of an image. */
export interface FakeImage {
  id: string;
  tags: Set<string>;
  labels: Record<string, string>;
  created: number;
  /** Files of the build context, for tests. */
  files: string[];
}

export function normalize(ref: string): string {
  return /:[^/]+$/.test(ref) ? ref : `${ref}:latest`;
}

export function matches(
  have: Record<string, string>,
  want: Record<string, string | true>,
): boolean {
  return Object.entries(want).every(([k, v]) =>
    v === true ? k in have : have[k] === v
  );
}

export function summary(img: FakeImage): ImageSummary {
  return {
    id: img.id,
    tags: [...img.tags],
    labels: { ...img.labels },
    created: img.created,
  };
}
