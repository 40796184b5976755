/**
 * @module
 * The image side of FakeRuntime: an in-memory image store with tags, the
 * way the engine resolves a reference (id, id prefix or normalised tag),
 * one image per tag, and removal refused while a container uses the image.
 */
import { type FakeImage, normalize, summary } from "./_fake_parts.ts";
import type { ImageSummary } from "./runtime.ts";

/** Images by id; the FakeRuntime exposes `map` as its `images`. */
export class FakeImages {
  readonly map = new Map<string, FakeImage>();
  #seq = 0;

  /** Adds an image as if pulled, imported or built; returns its id. */
  add(ref: string, labels: Record<string, string> = {}): string {
    const id = `sha256:${(++this.#seq).toString(16).padStart(64, "0")}`;
    this.map.set(id, {
      id,
      tags: new Set([normalize(ref)]),
      labels,
      created: Date.now(),
      files: [],
    });
    return id;
  }

  /** The image an id, id prefix or tag names. */
  find(ref: string): FakeImage | undefined {
    if (this.map.has(ref)) return this.map.get(ref);
    const n = normalize(ref);
    for (const img of this.map.values()) {
      if (img.tags.has(n) || img.id.startsWith(ref)) return img;
    }
    return undefined;
  }

  /** Takes `tag` off every image but `keep` (a tag names one image). */
  untagOthers(tag: string, keep: string): void {
    for (const img of this.map.values()) {
      if (img.id !== keep) img.tags.delete(tag);
    }
  }

  inspect(ref: string): ImageSummary | null {
    const img = this.find(ref);
    return img ? summary(img) : null;
  }

  list(repo: string): ImageSummary[] {
    const out: ImageSummary[] = [];
    for (const img of this.map.values()) {
      const tags = [...img.tags].filter((t) => t.startsWith(`${repo}:`));
      if (tags.length) out.push({ ...summary(img), tags });
    }
    return out;
  }

  tag(ref: string, repo: string, tag: string): void {
    const img = this.find(ref);
    if (!img) throw new Error(`No such image: ${ref}`);
    this.untagOthers(`${repo}:${tag}`, img.id);
    img.tags.add(`${repo}:${tag}`);
  }

  /** Removes a tag (or, by id, the image); `inUse` says a container runs it. */
  remove(
    ref: string,
    force: boolean,
    inUse: (imageId: string) => boolean,
  ): void {
    const img = this.find(ref);
    if (!img) return;
    if (img.tags.size <= 1 && inUse(img.id) && !force) {
      throw new Error(`conflict: unable to remove ${ref}: image is in use`);
    }
    if (ref.startsWith("sha256:")) img.tags.clear();
    else img.tags.delete(normalize(ref));
    if (img.tags.size === 0) this.map.delete(img.id);
  }
}
