// A Deno function: no Dockerfile, just an entry point that exports fetch.
// mypaas.url=http://hello-function.localhost
// mypaas.idle=5m

export default {
  fetch(req: Request): Response {
    const { pathname } = new URL(req.url);
    return new Response(`Hello from mypaas at ${pathname}\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
