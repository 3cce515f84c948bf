import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The README and the manual in docs/: every relative link resolves, every
// #anchor names a heading, and the README stays a door, not a manual.
const ROOT = path.resolve(import.meta.dirname, "../..");
const FILES = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The text a reader sees as prose: no fenced code, no inline code, no HTML comments (a comment is a slot, not a link). */
function prose(markdown: string): string {
  return markdown
    .replace(/^```[\s\S]*?^```/gm, "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/`[^`\n]*`/g, "code");
}

/** GitHub's anchor for each heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?: "[^"]*")?\)/g)].map((m) => m[1]!);
}

/** Blocks of prose between blank lines, each list item apart; headings and tables left out. */
function paragraphs(markdown: string): string[] {
  return prose(markdown)
    .split(/\n\s*\n|\n(?=\s*(?:[-*]|\d+\.) )/)
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith("#") && !p.startsWith("|"));
}

describe("the docs", () => {
  it.each(FILES)("%s: every relative link resolves, and every #anchor names a heading", (file) => {
    const broken: string[] = [];
    for (const link of linksOf(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
      const [target = "", anchor] = link.split("#");
      const resolved = target ? path.join(path.dirname(file), decodeURIComponent(target)) : file;
      if (!existsSync(path.join(ROOT, resolved))) {
        broken.push(`${link}: no ${resolved}`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(read(resolved)).has(anchor)) {
        broken.push(`${link}: no heading #${anchor} in ${resolved}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("link checking finds a broken file, a broken anchor and a good one", () => {
    const md = "# A title\n\n## `POST /e/:eventKey`\n\n[x](#a-title) [y](#post-eeventkey) [z](#nope) `[code](nowhere.md)`";
    expect(linksOf(md)).toEqual(["#a-title", "#post-eeventkey", "#nope"]);
    expect([...anchorsOf(md)]).toEqual(["a-title", "post-eeventkey"]);
    const words = (n: number) => Array.from({ length: n }, () => "word").join(" ");
    expect(
      paragraphs(`# T\n\n${words(81)}\n\n- ${words(80)}\n- ${words(3)}\n\n| a | ${words(90)} |`).map((p) => p.split(" ").length),
    ).toEqual([81, 81, 4]);
  });

  it("README.md is under 10 KB", () => {
    expect(statSync(path.join(ROOT, "README.md")).size).toBeLessThan(10_000);
  });

  it.each(FILES)("%s: no paragraph is over 80 words", (file) => {
    const long = paragraphs(read(file))
      .map((p) => ({ words: p.split(/\s+/).length, start: p.slice(0, 60) }))
      .filter((p) => p.words > 80);
    expect(long).toEqual([]);
  });
});
