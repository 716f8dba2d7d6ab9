/**
 * A strict parser of Prometheus' text exposition format 0.0.4 (prom-client has none): every line
 * is a HELP, a TYPE or a sample; names and labels follow the format's grammar; a family's TYPE comes
 * before its samples; a sample belongs to a declared family (summaries: `_sum` and `_count` too);
 * values are floats. Throws on the first violation, naming the line.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/;
const TYPES = new Set(["counter", "gauge", "summary", "histogram", "untyped"]);

export function parsePrometheusText(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  text.split("\n").forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} ${JSON.stringify(line)}: ${why}`);
    };
    if (line === "") return;
    if (line.startsWith("#")) {
      const [, keyword, name, ...rest] = line.split(" ");
      if (keyword === "HELP") {
        if (!name || !NAME.test(name)) fail("bad metric name in HELP");
      } else if (keyword === "TYPE") {
        if (!name || !NAME.test(name) || !TYPES.has(rest.join(" "))) fail("bad TYPE line");
        if (types.has(name!)) fail("TYPE declared twice");
        types.set(name!, rest.join(" "));
      }
      return;
    }
    const match = SAMPLE.exec(line) ?? fail("not a sample line");
    const [, name, labelText = "", valueText] = match;
    const family = types.has(name!) ? name! : name!.replace(/_(sum|count|bucket)$/, "");
    const type = types.get(family) ?? fail(`sample before (or without) the TYPE of ${family}`);
    if (family !== name && !(type === "summary" || type === "histogram")) fail(`suffix on a ${type}`);
    const labels: Record<string, string> = {};
    let rest = labelText;
    while (rest.length > 0) {
      const label = LABEL.exec(rest) ?? fail(`bad label syntax at ${JSON.stringify(rest)}`);
      if (label[1]! in labels) fail(`label ${label[1]} repeated`);
      labels[label[1]!] = label[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = rest.slice(label[0].length);
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (rest.length > 0) fail("labels not separated by commas");
    }
    const value = /^(NaN|[+-]Inf)$/.test(valueText!) ? Number(valueText!.replace("Inf", "Infinity")) : Number(valueText);
    if (valueText === "" || (Number.isNaN(value) && valueText !== "NaN")) fail(`bad value ${valueText}`);
    samples.push({ name: name!, labels, value });
  });
  return { types, samples };
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
