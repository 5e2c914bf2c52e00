// Parse Mermaid diagrams with the official `mermaid` package, headless (a jsdom window stands in
// for the browser: mermaid's module wants `window`/`document` even to parse a flowchart).
// Usage: node scripts/mermaid_check.mjs FILE...   ("-" reads stdin). Exit 0 when every diagram
// parses; exit 1 with "FILE: <mermaid's error>" on stderr for each one that does not.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const key of ["DOMParser", "Element", "HTMLElement", "SVGElement", "Node", "navigator"]) {
  if (!(key in globalThis)) {
    Object.defineProperty(globalThis, key, { value: dom.window[key], configurable: true, writable: true });
  }
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

let failed = 0;
const files = process.argv.slice(2);
if (files.length === 0) files.push("-");
for (const file of files) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(`${file}: ok (${result.diagramType})`);
  } catch (err) {
    failed += 1;
    const message = String(err && err.message ? err.message : err).split("\n").join(" ");
    console.error(`${file}: ${message}`);
  }
}
process.exit(failed ? 1 : 0);
