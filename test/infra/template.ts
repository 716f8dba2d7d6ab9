/** Reading a synthesised CloudFormation template in the infra tests. */
import { readdirSync, readFileSync } from "node:fs";

export type Json = Record<string, any>;

export interface Resource {
  id: string;
  Type: string;
  Properties: Json;
  DependsOn?: string[];
}

export function resourcesOfType(template: Json, type: string): Resource[] {
  return Object.entries(template.Resources as Record<string, Json>)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => ({ id, ...(resource as Omit<Resource, "id">) }));
}

export function onlyResource(template: Json, type: string): Resource {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}

/** The logical id a `{ Ref }` or `{ "Fn::GetAtt": [id, attribute] }` points to. */
export function referencedId(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const json = value as Json;
  if (typeof json.Ref === "string") return json.Ref;
  if (Array.isArray(json["Fn::GetAtt"])) return json["Fn::GetAtt"][0];
  return undefined;
}

/** Every IAM statement in identity policies (AWS::IAM::Policy) attached to the role `roleId`. */
export function roleStatements(template: Json, roleId: string): Json[] {
  return resourcesOfType(template, "AWS::IAM::Policy")
    .filter((policy) => ((policy.Properties.Roles ?? []) as unknown[]).some((role) => referencedId(role) === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Json[]);
}

export function actionsOf(statements: Json[]): string[] {
  return [...new Set(statements.flatMap((statement) => [statement.Action].flat() as string[]))].sort();
}

/** Statements anywhere in the template whose Resource is "*", with the resource that holds them. */
export function wildcardResourceStatements(template: Json): { holder: Resource; statement: Json }[] {
  const found: { holder: Resource; statement: Json }[] = [];
  const visit = (holder: Resource, value: unknown): void => {
    if (Array.isArray(value)) return value.forEach((item) => visit(holder, item));
    if (typeof value !== "object" || value === null) return;
    const json = value as Json;
    if ("Effect" in json && [json.Resource].flat().includes("*")) found.push({ holder, statement: json });
    Object.values(json).forEach((item) => visit(holder, item));
  };
  for (const [id, resource] of Object.entries(template.Resources as Record<string, Json>)) {
    visit({ id, ...(resource as Omit<Resource, "id">) }, resource.Properties);
  }
  return found;
}

/**
 * The SDK command classes the storage backends construct (`new XCommand(` or
 * `new this.sdk.XCommand(`), from every source file under src/physical.
 */
export function backendCommands(): string[] {
  const commands = new Set<string>();
  for (const name of readdirSync("src/physical").filter((file) => file.endsWith(".ts"))) {
    const source = readFileSync(`src/physical/${name}`, "utf8");
    for (const match of source.matchAll(/\bnew\s+(?:this\.)?(?:sdk\.)?(\w+Command)\s*\(/g)) commands.add(match[1]!);
  }
  return [...commands].sort();
}
