/**
 * @module
 * `FakeRuntime`: an in-memory `ContainerRuntime` for unit tests. It keeps
 * containers, images and networks in maps, emits events, and "runs" a tiny
 * subset of `sh -c` (echo to stdout or `>&2`) so that logs can be tested.
 * Builds read the Dockerfile: `FROM` must name a known image and a
 * `RUN false` / `RUN exit N` line fails the build.
 */
import { contextFiles } from "./build_context.ts";
import { FakeEvents } from "./_fake_events.ts";
import { FakeImages } from "./_fake_images.ts";
import {
  fakeBuildSteps,
  type FakeImage,
  fakeOutput,
  matches,
  normalize,
} from "./_fake_parts.ts";
import {
  type BuildOptions,
  type ContainerCreate,
  type ContainerDetails,
  type ContainerRuntime,
  type ContainerStats,
  type ContainerSummary,
  type ImageSummary,
  type LogLine,
  type RuntimeEvent,
  RuntimeUnavailableError,
} from "./runtime.ts";

/** An in-memory container engine. Fields are public for test assertions. */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, ContainerDetails>();
  readonly #images = new FakeImages();
  readonly images: Map<string, FakeImage> = this.#images.map;
  readonly networks = new Map<string, Record<string, string>>();
  readonly logLines = new Map<string, LogLine[]>();
  /** Builds done, in order (tags). */
  readonly builds: string[] = [];
  /** The options of every build begun, in order. */
  readonly buildOptions: BuildOptions[] = [];
  /**
   * When set, each build awaits it before finishing (tests hold a build
   * open); an abort of the build's signal rejects it.
   */
  buildGate: ((opts: BuildOptions) => Promise<void>) | null = null;
  /** Set to make every call throw RuntimeUnavailableError. */
  down = false;
  #ip = 2;
  readonly #events = new FakeEvents();

  /** Event streams open now (tests wait for a watcher to follow again). */
  get eventStreams(): number {
    return this.#events.listeners;
  }

  /** Adds an image as if pulled or imported. */
  addImage(ref: string, labels: Record<string, string> = {}): string {
    return this.#images.add(ref, labels);
  }

  /** Appends a log line to a container (tests). */
  appendLog(id: string, line: string, stream: "stdout" | "stderr" = "stdout") {
    const c = this.#get(id);
    this.#logs(c.id).push({ stream, line });
    this.#emit("log", c);
  }

  /** Marks a running container as exited, as if its process died. */
  crash(id: string, exitCode = 1): void {
    const c = this.#get(id);
    c.state = "exited";
    c.running = false;
    c.exitCode = exitCode;
    this.#emit("die", c);
  }

  ping(): Promise<void> {
    this.#check();
    return Promise.resolve();
  }

  async build(
    opts: BuildOptions,
    onLine: (line: string) => void,
  ): Promise<string> {
    this.#check();
    this.buildOptions.push(opts);
    if (this.buildGate) {
      const gate = this.buildGate(opts);
      await new Promise<void>((resolve, reject) => {
        const abort = () => reject(new Error("build aborted"));
        if (opts.signal?.aborted) return abort();
        opts.signal?.addEventListener("abort", abort, { once: true });
        gate.then(resolve, reject);
      });
    }
    const dockerfile = opts.dockerfile ?? "Dockerfile";
    const text = await Deno.readTextFile(`${opts.dir}/${dockerfile}`);
    const files = await contextFiles(opts.dir, {
      extraIgnore: opts.ignore,
      dockerfile,
    });
    const say = fakeBuildSteps(text, (ref) => !!this.#images.find(ref), onLine);
    const id = this.addImage(opts.tag, opts.labels ?? {});
    this.#images.untagOthers(normalize(opts.tag), id);
    this.images.get(id)!.files = files;
    this.builds.push(opts.tag);
    say(`Successfully built ${id.slice(7, 19)}`);
    return id;
  }

  pull(ref: string, _onLine: (line: string) => void): Promise<void> {
    this.#check();
    return Promise.reject(
      new Error(`pull of ${ref} failed: the fake runtime has no registry`),
    );
  }

  create(opts: ContainerCreate): Promise<string> {
    this.#check();
    const img = this.#images.find(opts.image);
    if (!img) {
      return Promise.reject(new Error(`No such image: ${opts.image}`));
    }
    for (const c of this.containers.values()) {
      if (c.name === opts.name) {
        return Promise.reject(
          new Error(`Conflict. The container name "/${opts.name}" is in use`),
        );
      }
    }
    if (opts.network && !this.networks.has(opts.network)) {
      return Promise.reject(new Error(`network ${opts.network} not found`));
    }
    const id = crypto.randomUUID().replaceAll("-", "").padEnd(64, "0");
    const c: ContainerDetails = {
      id,
      name: opts.name,
      image: opts.image,
      imageId: img.id,
      state: "created",
      labels: { ...opts.labels },
      created: Date.now(),
      running: false,
      exitCode: 0,
      restartCount: 0,
      env: { ...opts.env },
      ips: opts.network ? { [opts.network]: `10.99.0.${this.#ip++}` } : {},
      cpus: opts.cpus ?? 0,
      memory: opts.memory ?? 0,
      cpuReservation: opts.cpuReservation ?? 0,
      memoryReservation: opts.memoryReservation ?? 0,
      mounts: (opts.mounts ?? []).map((m) => ({
        ...m,
        readOnly: m.readOnly ?? false,
      })),
      publish: [...(opts.publish ?? [])],
      restart: opts.restart ?? "no",
      startedAt: 0,
      log: {
        driver: "json-file",
        limits: opts.log ? { ...opts.log } : null,
      },
    };
    this.containers.set(id, c);
    this.logLines.set(id, []);
    this.#logs(id).push(...fakeOutput(opts.cmd));
    this.#emit("create", c);
    return Promise.resolve(id);
  }

  start(id: string): Promise<void> {
    this.#check();
    const c = this.#get(id);
    if (!c.running) {
      c.running = true;
      c.state = "running";
      c.startedAt = Date.now();
      this.#emit("start", c);
    }
    return Promise.resolve();
  }

  stop(id: string): Promise<void> {
    this.#check();
    const c = this.containers.get(this.#resolve(id) ?? "");
    if (c?.running) {
      c.running = false;
      c.state = "exited";
      c.exitCode = 137;
      this.#emit("die", c);
      this.#emit("stop", c);
    }
    return Promise.resolve();
  }

  async restart(id: string): Promise<void> {
    await this.stop(id);
    await this.start(id);
    this.#emit("restart", this.#get(id));
  }

  kill(id: string): Promise<void> {
    this.#check();
    const c = this.#get(id);
    if (!c.running) {
      return Promise.reject(new Error(`Container ${id} is not running`));
    }
    c.running = false;
    c.state = "exited";
    c.exitCode = 137;
    this.#emit("kill", c);
    this.#emit("die", c);
    return Promise.resolve();
  }

  rename(id: string, name: string): Promise<void> {
    this.#check();
    const c = this.#get(id);
    for (const o of this.containers.values()) {
      if (o.name === name && o.id !== c.id) {
        return Promise.reject(
          new Error(`Conflict. The container name "/${name}" is in use`),
        );
      }
    }
    c.name = name;
    this.#emit("rename", c);
    return Promise.resolve();
  }

  remove(id: string, opts: { force?: boolean } = {}): Promise<void> {
    this.#check();
    const key = this.#resolve(id);
    const c = key ? this.containers.get(key) : undefined;
    if (!c) return Promise.resolve();
    if (c.running && !opts.force) {
      return Promise.reject(
        new Error(`You cannot remove a running container ${c.id}`),
      );
    }
    if (c.running) this.#emit("kill", c);
    this.containers.delete(c.id);
    this.#emit("destroy", c);
    return Promise.resolve();
  }

  inspect(idOrName: string): Promise<ContainerDetails | null> {
    this.#check();
    const key = this.#resolve(idOrName);
    const c = key ? this.containers.get(key) : undefined;
    return Promise.resolve(c ? structuredClone(c) : null);
  }

  list(labels: Record<string, string | true>): Promise<ContainerSummary[]> {
    this.#check();
    const out: ContainerSummary[] = [];
    for (const c of this.containers.values()) {
      if (!matches(c.labels, labels)) continue;
      const { id, name, image, state, created } = c;
      out.push({ id, name, image, state, labels: { ...c.labels }, created });
    }
    return Promise.resolve(out);
  }

  events(
    labels: Record<string, string | true>,
    signal: AbortSignal,
    opts: { sinceMs?: number } = {},
  ): AsyncIterable<RuntimeEvent> {
    this.#check();
    return this.#events.stream(labels, signal, opts);
  }

  stats(id: string): Promise<ContainerStats> {
    this.#check();
    const c = this.#get(id);
    return Promise.resolve({
      cpuPct: 0,
      cpuSeconds: 0,
      memory: 0,
      memoryLimit: c.memory,
    });
  }

  async *logs(
    id: string,
    opts: { follow?: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<LogLine> {
    this.#check();
    const c = this.#get(id);
    const all = this.#logs(c.id);
    let i = opts.tail === undefined ? 0 : Math.max(0, all.length - opts.tail);
    while (true) {
      while (i < all.length) yield all[i++]!;
      if (!opts.follow || opts.signal?.aborted) return;
      if (!this.containers.has(c.id) || !c.running) return;
      await this.#events.next(c.id, opts.signal);
    }
  }

  inspectImage(ref: string): Promise<ImageSummary | null> {
    this.#check();
    return Promise.resolve(this.#images.inspect(ref));
  }

  listImages(repo: string): Promise<ImageSummary[]> {
    this.#check();
    return Promise.resolve(this.#images.list(repo));
  }

  tagImage(ref: string, repo: string, tag: string): Promise<void> {
    this.#check();
    try {
      this.#images.tag(ref, repo, tag);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  removeImage(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    this.#check();
    try {
      this.#images.remove(
        ref,
        !!opts.force,
        (id) => [...this.containers.values()].some((c) => c.imageId === id),
      );
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  ensureNetwork(name: string, labels: Record<string, string> = {}) {
    this.#check();
    if (!this.networks.has(name)) this.networks.set(name, labels);
    return Promise.resolve();
  }

  removeNetwork(name: string): Promise<void> {
    this.#check();
    this.networks.delete(name);
    return Promise.resolve();
  }

  #check() {
    if (this.down) {
      throw new RuntimeUnavailableError("the fake Docker engine is down");
    }
  }

  #resolve(idOrName: string): string | undefined {
    if (this.containers.has(idOrName)) return idOrName;
    for (const c of this.containers.values()) {
      if (c.name === idOrName || c.id.startsWith(idOrName)) return c.id;
    }
    return undefined;
  }

  #get(id: string): ContainerDetails {
    const key = this.#resolve(id);
    const c = key ? this.containers.get(key) : undefined;
    if (!c) throw new Error(`No such container: ${id}`);
    return c;
  }

  #logs(id: string): LogLine[] {
    let l = this.logLines.get(id);
    if (!l) this.logLines.set(id, l = []);
    return l;
  }

  #emit(action: string, c: ContainerDetails) {
    this.#events.emit(action, c);
  }
}
