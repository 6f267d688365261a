"use strict";
// Compiles the TypeScript sources with tsc, then copies what Node-RED loads beside the compiled
// nodes: each node's editor .html, the locales folder, and icons/ (Node-RED looks for a module's
// icons only in an icons/ folder next to the node's .js file).
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const nodesOut = path.join(root, "dist", "nodes");

fs.rmSync(path.join(root, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", root], { stdio: "inherit" });

fs.mkdirSync(nodesOut, { recursive: true });
for (const entry of fs.readdirSync(path.join(root, "nodes"))) {
  if (entry.endsWith(".html")) {
    fs.copyFileSync(path.join(root, "nodes", entry), path.join(nodesOut, entry));
  }
}
fs.cpSync(path.join(root, "nodes", "locales"), path.join(nodesOut, "locales"), { recursive: true });
fs.cpSync(path.join(root, "icons"), path.join(nodesOut, "icons"), { recursive: true });
