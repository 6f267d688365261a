"use strict";
// Compiles the TypeScript sources with tsc, then copies what Node-RED loads beside the compiled
// nodes: each node's editor .html, the locales folder, and icons/ (Node-RED looks for a module's
// icons only in an icons/ folder next to the node's .js file).
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const nodesOut = path.join(root, "dist", "nodes");

const dist = path.join(root, "dist");

// dist/ is overwritten in place rather than deleted first, so a test run that is reading it keeps
// working while another build runs. Compiled files whose source is gone are removed afterwards.
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", root], { stdio: "inherit" });
removeOrphans(dist);

fs.mkdirSync(nodesOut, { recursive: true });
for (const entry of fs.readdirSync(path.join(root, "nodes"))) {
  if (entry.endsWith(".html")) {
    fs.copyFileSync(path.join(root, "nodes", entry), path.join(nodesOut, entry));
  }
}
fs.cpSync(path.join(root, "nodes", "locales"), path.join(nodesOut, "locales"), { recursive: true });
fs.cpSync(path.join(root, "icons"), path.join(nodesOut, "icons"), { recursive: true });

/** Deletes compiled .js files under a folder of dist/ whose .ts source no longer exists. */
function removeOrphans(folder) {
  if (!fs.existsSync(folder)) {
    return;
  }
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      removeOrphans(full);
    } else if (entry.name.endsWith(".js")) {
      const source = path.join(root, path.relative(dist, full)).replace(/\.js$/, ".ts");
      if (!fs.existsSync(source)) {
        fs.rmSync(full);
      }
    }
  }
}
