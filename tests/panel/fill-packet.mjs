// Fills a ModelBench rating packet the way a rater would: opens it in jsdom (a browser DOM
// without a window), reads each item on the page, presses the packet's keyboard shortcuts, then
// presses "Save ratings file" and writes what the page produced.
//
//   node tests/panel/fill-packet.mjs PACKET.html STRATEGY OUT.json
//
// STRATEGY: `prefer:WORD` (pairwise: the answer containing WORD, a tie when both or neither do;
// rubric: 5 for answers containing WORD, 2 otherwise), `always:A` (pairwise: always A), or
// `check` (no rating: prints the page's SHA-256 and HMAC of fixed inputs, for the unit test).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "..", "ui", "package.json"));
const { JSDOM } = require("jsdom");

const [packetPath, strategy, outPath] = process.argv.slice(2);
const html = readFileSync(packetPath, "utf8");
const dom = new JSDOM(html, { runScripts: "dangerously", url: "http://packet.invalid/" });
const { window } = dom;
const document = window.document;
const press = (key) => document.dispatchEvent(new window.KeyboardEvent("keydown", { key, bubbles: true }));

if (strategy === "check") {
  const packet = window.modelbenchPacket;
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const key = Uint8Array.from({ length: 32 }, () => 0x1f);
  process.stdout.write(
    JSON.stringify({
      sha256_abc: hex(packet.sha256(packet.utf8("abc"))),
      sha256_long: hex(packet.sha256(packet.utf8("a".repeat(1000)))),
      hmac: packet.hmacSha256Hex(key, packet.utf8('{"a":1}')),
      utf8: hex(packet.utf8("é€😀")),
    }) + "\n",
  );
  process.exit(0);
}

const data = JSON.parse(document.getElementById("packet-data").textContent);
const [mode, word] = strategy.split(":");
for (let step = 0; step < data.items.length; step++) {
  const answers = Array.from(document.querySelectorAll(".answer .text"), (node) => node.textContent);
  if (data.kind === "pairwise") {
    if (mode === "always") press(word);
    else {
      const hasA = answers[0].includes(word);
      const hasB = answers[1].includes(word);
      press(hasA === hasB ? "t" : hasA ? "a" : "b");
    }
  } else {
    for (const answer of answers) {
      for (let c = 0; c < data.criteria.length; c++) press(answer.includes(word) ? "5" : "2");
    }
  }
}
document.getElementById("save").click();
const text = document.getElementById("ratings-text").value;
if (!text) throw new Error("the packet produced no ratings file");
writeFileSync(outPath, text);
