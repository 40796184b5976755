/**
 * No import circles among our own modules, type imports included: every
 * module graph reachable from main.ts is a DAG (issue 12).
 */
import { assertEquals } from "./_assert.ts";

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** Strongly connected components with more than one module, or a self-import. */
export function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
        if (w === v) break;
      }
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) {
        out.push(comp.sort());
      }
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

Deno.test("circles() finds a cycle and ignores a DAG", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assertEquals(circles(g), [["a", "b", "c"]]);
  assertEquals(circles(new Map([["a", ["b"]], ["b", []]])), []);
});

Deno.test("no import circle among our modules (deno info main.ts)", async () => {
  const root = new URL("../", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: InfoModule[];
  };
  const ours = (s?: string): s is string => !!s && s.startsWith(root);
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!ours(m.specifier)) continue;
    const deps = (m.dependencies ?? []).flatMap((d) =>
      [d.code?.specifier, d.type?.specifier].filter(ours)
    );
    graph.set(m.specifier.slice(root.length), [
      ...new Set(deps.map((d) => d.slice(root.length))),
    ]);
  }
  if (graph.size < 50) throw new Error(`only ${graph.size} modules found`);
  assertEquals(circles(graph), []);
});
