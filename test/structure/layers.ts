/**
 * The layers of `src/`, lowest first, and what each may import: the one table the layout test
 * checks the import graph and README's Architecture table against. A layer may import only layers
 * listed before it, so imports run one way and no folder-level cycle can form.
 */
export const LAYERS: readonly { layer: string; mayImport: readonly string[] }[] = [
  { layer: "sdk", mayImport: [] },
  { layer: "builtin", mayImport: ["sdk"] },
  { layer: "config", mayImport: ["sdk"] },
  { layer: "physical", mayImport: ["sdk", "config"] },
  { layer: "barrier", mayImport: ["sdk", "physical"] },
  { layer: "logical", mayImport: ["sdk", "physical", "builtin"] },
  { layer: "seal", mayImport: ["sdk", "config", "physical", "barrier", "logical"] },
  { layer: "metrics", mayImport: ["sdk", "physical", "logical"] },
  { layer: "audit", mayImport: ["sdk", "logical", "metrics"] },
  { layer: "ha", mayImport: ["sdk", "physical", "logical", "metrics", "audit"] },
  { layer: "request", mayImport: ["sdk", "barrier", "logical", "metrics", "audit", "ha"] },
  { layer: "core.ts", mayImport: ["sdk", "physical", "barrier", "logical", "seal", "audit", "ha", "request"] },
  { layer: "http", mayImport: ["sdk", "config", "physical", "barrier", "seal", "metrics", "ha", "request", "core.ts"] },
];

/** The layer a file under `src/` belongs to: its first folder, or the file itself at the top. */
export function layerOf(file: string): string {
  return file.split("/")[1]!;
}
