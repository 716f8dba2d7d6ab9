/**
 * Every relative link and #anchor in README.md and docs/*.md leads somewhere: the file exists and,
 * for a Markdown target, has a heading with that anchor (GitHub's slugs).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

const PAGES = [
  "README.md",
  ...readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name)),
];

/** Markdown without its fenced code blocks, where `](` is code, not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function brokenLinks(page: string): string[] {
  const broken: string[] = [];
  for (const [, target] of prose(readFileSync(page, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue;
    const [file, anchor] = target!.split("#") as [string, string | undefined];
    const path = file ? normalize(join(dirname(page), file)) : page;
    if (!existsSync(path)) {
      broken.push(`${page}: ${target} (no file ${path})`);
    } else if (anchor !== undefined && !anchorsOf(readFileSync(path, "utf8")).has(anchor)) {
      broken.push(`${page}: ${target} (no heading #${anchor} in ${path})`);
    }
  }
  return broken;
}

describe("documentation links", () => {
  it("computes GitHub's anchors, punctuation and repeats included", () => {
    expect([...anchorsOf("# Seal migration (Shamir ⇄ awskms)\n## Benchmarks (`npm run bench`)\n## Tests\n## Tests\n")]).toEqual([
      "seal-migration-shamir--awskms",
      "benchmarks-npm-run-bench",
      "tests",
      "tests-1",
    ]);
  });

  it.each(PAGES)("%s: every relative link and #anchor resolves", (page) => {
    expect(brokenLinks(page)).toEqual([]);
  });
});
