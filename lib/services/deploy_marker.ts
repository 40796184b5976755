/**
 * @module
 * The deploy marker: a small file per service, written before a deploy
 * touches any container and removed when it ended. Finding one at start-up
 * means the daemon died mid-deploy; recovery then finishes or rolls back.
 * (Without a marker, recovery still works from the container labels.)
 */

/** A deploy in progress. */
export interface DeployMarker {
  service: string;
  /** The release serving before the deploy, or null on a first deploy. */
  from: number | null;
  to: number;
  startedAt: number;
}

/** The marker files of one daemon, under `dir`. */
export class DeployMarkers {
  constructor(readonly dir: string) {}

  #path(service: string): string {
    return `${this.dir}/${service}.json`;
  }

  /** Writes the marker (atomically: temp file, then rename). */
  async write(m: DeployMarker): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.#path(m.service)}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(m));
    await Deno.rename(tmp, this.#path(m.service));
  }

  async remove(service: string): Promise<void> {
    try {
      await Deno.remove(this.#path(service));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** Every marker left behind. */
  async all(): Promise<DeployMarker[]> {
    const out: DeployMarker[] = [];
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (!e.isFile || !e.name.endsWith(".json")) continue;
        try {
          const m = JSON.parse(
            await Deno.readTextFile(`${this.dir}/${e.name}`),
          ) as DeployMarker;
          if (typeof m.service === "string" && typeof m.to === "number") {
            out.push(m);
          }
        } catch {
          // a torn write: the labels decide
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  }
}
