import { describe, expect, test } from "bun:test";
import { MeshError } from "../errors/mesh-error.ts";
import { parseDuration, formatDuration } from "../util/duration.ts";
import { convertValue, envNameFor, type OptionSpec, parseArgv, resolveOptions } from "./options.ts";

const specs: OptionSpec[] = [
  { name: "node", type: "string", required: true, description: "" },
  { name: "capture", type: "enum", values: ["iptables", "socks5"], default: "socks5", description: "" },
  { name: "port", type: "int", min: 1, max: 65535, default: "15001", description: "" },
  { name: "check", type: "bool", description: "" },
  { name: "filename", short: "f", type: "string", description: "" },
  { name: "endpoints", type: "list", description: "" },
  { name: "ttl", type: "duration", default: "24h", description: "" },
  { name: "listen", type: "address", description: "" },
];

function usage(fn: () => unknown): MeshError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe("invalid_argument");
    return err as MeshError;
  }
  throw new Error("expected a usage error");
}

describe("parseArgv", () => {
  const cases: Array<[string, string[], Record<string, string>, string[]]> = [
    ["separate value", ["--node", "n1"], { node: "n1" }, []],
    ["inline value", ["--node=n1"], { node: "n1" }, []],
    ["short with value", ["-f", "a.yaml"], { filename: "a.yaml" }, []],
    ["short glued", ["-fa.yaml"], { filename: "a.yaml" }, []],
    ["bool without value", ["--check", "pos"], { check: "true" }, ["pos"]],
    ["bool with inline value", ["--check=false"], { check: "false" }, []],
    ["positionals around flags", ["KIND", "--node", "x", "NAME"], { node: "x" }, ["KIND", "NAME"]],
    ["-- ends flags", ["--", "--node"], {}, ["--node"]],
    ["last one wins", ["--node", "a", "--node", "b"], { node: "b" }, []],
  ];
  for (const [name, argv, flags, positionals] of cases) {
    test(name, () => {
      const r = parseArgv(specs, argv);
      expect(r.flags).toEqual(flags);
      expect(r.positionals).toEqual(positionals);
    });
  }
  test("--help is recognised anywhere", () => expect(parseArgv(specs, ["--node", "x", "-h"]).help).toBe(true));
  test("unknown long flag names itself and lists the accepted flags", () => {
    const e = usage(() => parseArgv(specs, ["--nodes", "x"]));
    expect(e.message).toContain("--nodes");
    expect(e.detail.accepted).toContain("--node");
  });
  test("unknown short flag", () => expect(usage(() => parseArgv(specs, ["-z"])).message).toContain("-z"));
  test("missing value", () => expect(usage(() => parseArgv(specs, ["--node"])).message).toContain("--node needs a value"));
});

describe("convertValue", () => {
  const spec = (name: string) => specs.find((s) => s.name === name) as OptionSpec;
  const good: Array<[string, string, unknown]> = [
    ["port", "8080", 8080],
    ["check", "yes", true],
    ["check", "0", false],
    ["capture", "iptables", "iptables"],
    ["endpoints", "http://a:2379, http://b:2379", ["http://a:2379", "http://b:2379"]],
    ["ttl", "1h30m", 5_400_000],
    ["listen", "127.0.0.1:15012", "127.0.0.1:15012"],
    ["listen", "[::1]:15012", "[::1]:15012"],
    ["listen", ":15012", ":15012"],
  ];
  for (const [name, raw, want] of good) test(`${name}=${raw}`, () => expect(convertValue(spec(name), raw, "t")).toEqual(want as never));
  const bad: Array<[string, string, RegExp]> = [
    ["port", "0", /below the minimum 1/],
    ["port", "70000", /above the maximum/],
    ["port", "8o", /not a whole number/],
    ["check", "maybe", /not a boolean/],
    ["capture", "ebpf", /not one of iptables, socks5/],
    ["endpoints", " , ", /at least one/],
    ["ttl", "10 minutes", /not a duration/],
    ["listen", "localhost", /HOST:PORT/],
    ["listen", "1.2.3.4:99999", /HOST:PORT/],
    ["node", "", /must not be empty/],
  ];
  for (const [name, raw, why] of bad) {
    test(`refuses ${name}=${JSON.stringify(raw)}`, () => {
      const e = usage(() => convertValue(spec(name), raw, `flag --${name}`));
      expect(e.message).toMatch(why);
      expect(e.message).toContain(`--${name}`);
      expect(e.detail.path).toBe(`--${name}`);
    });
  }
  test("enum errors list the accepted values", () => {
    expect(usage(() => convertValue(spec("capture"), "x", "t")).detail.accepted).toEqual(["iptables", "socks5"]);
  });
});

describe("resolveOptions precedence: flags > env > file > default", () => {
  const file = { path: "mesh.yaml", values: { node: "from-file", port: 1000, capture: "iptables", endpoints: ["a", "b"] } };
  test("each source fills what the ones above leave", () => {
    const v = resolveOptions(specs, { flags: { node: "from-flag" }, env: { MESH_PORT: "2000" }, file });
    expect(v).toEqual({
      node: "from-flag",
      port: 2000,
      capture: "iptables",
      check: false,
      filename: undefined,
      endpoints: ["a", "b"],
      ttl: 86_400_000,
      listen: undefined,
    });
  });
  test("required value missing everywhere", () => {
    expect(usage(() => resolveOptions(specs, { flags: {}, env: {} })).message).toBe("missing required flag --node (or MESH_NODE)");
  });
  test("bad environment value names the variable", () => {
    expect(usage(() => resolveOptions(specs, { flags: { node: "n" }, env: { MESH_CAPTURE: "tap" } })).message).toContain(
      "environment MESH_CAPTURE",
    );
  });
  test("unknown key in the file is refused", () => {
    const e = usage(() => resolveOptions(specs, { flags: {}, env: {}, file: { path: "m.yaml", values: { nodename: "x" } } }));
    expect(e.message).toContain('unknown setting "nodename"');
  });
  test("a mapping where a scalar belongs is refused", () => {
    const e = usage(() => resolveOptions(specs, { flags: {}, env: {}, file: { path: "m.yaml", values: { node: { a: 1 } } } }));
    expect(e.message).toContain("m.yaml: node");
  });
  test("env names", () => expect(envNameFor("etcd-endpoints")).toBe("MESH_ETCD_ENDPOINTS"));
});

describe("durations", () => {
  test("round trip", () => {
    for (const [text, ms] of [["500ms", 500], ["30s", 30_000], ["5m", 300_000], ["24h", 86_400_000]] as const) {
      expect(parseDuration(text)).toBe(ms);
      expect(formatDuration(ms)).toBe(text);
    }
  });
  test("refuses junk", () => {
    for (const bad of ["", "5", "s", "-1s", "1y"]) expect(() => parseDuration(bad)).toThrow();
  });
});

describe("command-line-only flags", () => {
  const spec: OptionSpec[] = [{ name: "all", type: "bool", commandLineOnly: true, description: "delete everything" }];
  test("MESH_* and the config file do not set them; the command line does", () => {
    expect(resolveOptions(spec, { flags: {}, env: { MESH_ALL: "true" }, file: { path: "c.yaml", values: { all: true } } }).all).toBe(false);
    expect(resolveOptions(spec, { flags: { all: "true" }, env: {} }).all).toBe(true);
  });
});
