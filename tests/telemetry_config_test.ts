/**
 * `[telemetry]` in config.toml: defaults, the headers table, and bad values
 * refused with the file, line and key.
 */
import { assert, assertEquals } from "./_assert.ts";
import { ConfigError, resolveConfig } from "../lib/config/load.ts";

const HOME = "/home/t";

function refused(text: string): string {
  try {
    resolveConfig(text, { home: HOME, file: "c.toml" });
  } catch (err) {
    assert(err instanceof ConfigError, String(err));
    return err.message;
  }
  throw new Error(`accepted: ${text}`);
}

Deno.test("[telemetry] defaults export nothing and serve no metrics", () => {
  const t = resolveConfig("", { home: HOME }).telemetry;
  assertEquals(t, {
    otlpEndpoint: "",
    otlpUser: "",
    otlpPassword: "",
    otlpHeaders: {},
    sampleRatio: 1,
    serviceName: "mypaas",
    metricsToken: "",
  });
});

Deno.test("[telemetry] reads the endpoint, basic auth, a headers table and the ratio", () => {
  const t = resolveConfig(
    `[telemetry]
otlp_endpoint = "https://otlp.example.com"
otlp_user = "u"
otlp_password = "p"
sample_ratio = 0.25
service_name = "edge-1"
metrics_token = "0123456789abcdef"

[telemetry.otlp_headers]
x-api-key = "k"
`,
    { home: HOME },
  ).telemetry;
  assertEquals(t.otlpEndpoint, "https://otlp.example.com");
  assertEquals([t.otlpUser, t.otlpPassword], ["u", "p"]);
  assertEquals({ ...t.otlpHeaders }, { "x-api-key": "k" });
  assertEquals(t.sampleRatio, 0.25);
  assertEquals(t.serviceName, "edge-1");
  assertEquals(t.metricsToken, "0123456789abcdef");
});

Deno.test("[telemetry] bad values name the file, line and key", () => {
  assertEquals(
    refused('[telemetry]\n\notlp_endpoint = "ftp://x"\n').split(": ")[0],
    "c.toml:3",
  );
  assert(
    refused('[telemetry]\notlp_endpoint = "ftp://x"\n').includes(
      "[telemetry] otlp_endpoint must be an http:// or https:// URL",
    ),
  );
  assert(
    refused('[telemetry]\notlp_endpoint = "not a url"\n').includes(
      "otlp_endpoint",
    ),
  );
  assert(
    refused("[telemetry]\nsample_ratio = 1.5\n").startsWith(
      "c.toml:2: [telemetry] sample_ratio must be a number from 0 to 1",
    ),
  );
  assert(
    refused('[telemetry]\notlp_user = "u"\n').includes(
      "[telemetry] otlp_password must be set together with otlp_user",
    ),
  );
  assert(
    refused('[telemetry]\notlp_headers = "x"\n').startsWith(
      "c.toml:2: [telemetry] otlp_headers must be a table of strings",
    ),
  );
  assert(
    refused('[telemetry]\notlp_headers = { "a b" = "x" }\n').includes(
      "bad header",
    ),
  );
  assert(
    refused("[telemetry]\notlp_headers = { a = 1 }\n").includes(
      "otlp_headers must be a table of strings",
    ),
  );
  assert(
    refused('[telemetry]\nmetrics_token = "short"\n').startsWith(
      "c.toml:2: [telemetry] metrics_token must be at least 16",
    ),
  );
  assert(
    refused('[telemetry]\nservice_name = ""\n').includes(
      "[telemetry] service_name",
    ),
  );
  assert(
    refused('[telemetry]\notlp_url = ""\n').includes(
      'unknown key "otlp_url" in [telemetry]',
    ),
  );
});
