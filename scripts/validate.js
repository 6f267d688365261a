"use strict";
// Runs the checks of `node-red-dev validate -p .` on this package, for machines that cannot reach
// the flow library's catalogue (https://catalogue.nodered.org/catalogue.json).
//
//   node scripts/validate.js
//
// Two checks read that catalogue: P08 (a package with a similar name) and N01 (node types another
// package already registers). node-red-dev runs its checks as one promise chain, so a failed
// catalogue request would skip every check after it. Here the catalogue request never leaves the
// process: it gets an empty catalogue, and P08 and N01 are reported as not checkable. The other
// checks run as node-red-dev wrote them, including their requests to the npm registry.
//
// D03 (a dependency behind its latest version) is accepted only when that latest version does not
// run on the oldest Node.js that package.json's engines allow. Every other failed check, and a check
// that did not run, makes the exit code 1. Expects a built dist/, because N02 reads dist/nodes/*.html.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const devSource = path.join(path.dirname(require.resolve("node-red-dev/package.json")), "src");
const fromNodeRedDev = (name) => require(require.resolve(name, { paths: [devSource] }));

const CATALOGUE_HOST = "catalogue.nodered.org";
const CATALOGUE_CHECKS = {
  P08: "packages with a similar name",
  N01: "other packages that register the same node types",
};
// The checks node-red-dev 0.1.x makes on a local package (P02 is disabled in node-red-dev itself).
const EXPECTED_CHECKS = ["P01", "P03", "P04", "P05", "P06", "P07", "P08", "N01", "N02", "D01", "D02", "D03"];
// Lines that node-red-dev prints when the catalogue lists no conflict. With the empty catalogue they
// would claim a result that was never checked.
const CATALOGUE_SUCCESS_LINES = [/No similar named packages found/, /Nodes all have unique names/];

const REQUEST_TIMEOUT_MS = 20000;
const DEADLINE_MS = 180000;

// Serves catalogue requests in the process with an empty catalogue, and puts a timeout on every
// other axios request (P06 and P07 read https://registry.npmjs.org/node-red).
function interceptCatalogue() {
  const axios = fromNodeRedDev("axios");
  axios.defaults.timeout = REQUEST_TIMEOUT_MS;
  axios.interceptors.request.use((config) => {
    if (new URL(config.url).hostname === CATALOGUE_HOST) {
      config.adapter = async () => ({ data: { modules: [] }, status: 200, statusText: "OK", headers: {}, config, request: {} });
    }
    return config;
  });
}

// The command object that node-red-dev's check functions print through. An error ends the run.
function createCli() {
  return {
    log(message) {
      if (!CATALOGUE_SUCCESS_LINES.some((line) => line.test(message))) {
        console.log(message);
      }
    },
    warn(message) {
      console.log(`⚠️  ${message instanceof Error ? message.message : message}`);
    },
    error(error) {
      throw error instanceof Error ? error : new Error(String(error));
    },
  };
}

// Returns why an out-of-date dependency may stay behind, or undefined. It may stay behind when its
// latest version needs a Node.js range that excludes the oldest Node.js this package supports.
function latestNeedsNewerNode(name, ownEngines) {
  const semver = fromNodeRedDev("semver");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const output = execFileSync(npm, ["view", `${name}@latest`, "version", "engines.node", "--json"], {
    cwd: root,
    encoding: "utf8",
    timeout: REQUEST_TIMEOUT_MS,
  });
  const latest = JSON.parse(output);
  const needed = latest["engines.node"];
  const oldestSupported = semver.minVersion(ownEngines);
  if (!needed || !oldestSupported || semver.satisfies(oldestSupported, needed)) {
    return undefined;
  }
  return `${name}@${latest.version} needs Node.js ${needed}, and this package supports Node.js ${ownEngines}`;
}

function judge(id, result, manifest) {
  if (result === undefined) {
    return { outcome: "FAILED", detail: "the check did not run" };
  }
  if (CATALOGUE_CHECKS[id]) {
    return { outcome: "not checkable", detail: `the flow library catalogue (${CATALOGUE_HOST}) was not fetched, so ${CATALOGUE_CHECKS[id]} were not looked up` };
  }
  if (result.test === true) {
    return { outcome: "passed", detail: "" };
  }
  if (id === "D03") {
    const reasons = (result.packages ?? []).map((name) => latestNeedsNewerNode(name, manifest.engines?.node ?? "*"));
    if (reasons.length > 0 && reasons.every(Boolean)) {
      return { outcome: "accepted", detail: reasons.join("; ") };
    }
  }
  return { outcome: "FAILED", detail: JSON.stringify(result) };
}

async function main() {
  const deadline = setTimeout(() => {
    console.error(`node-red-dev checks did not finish within ${DEADLINE_MS / 1000} s`);
    process.exit(1);
  }, DEADLINE_MS);

  interceptCatalogue();
  const checkPackage = fromNodeRedDev("./libs/checkpackage");
  const checkNodes = fromNodeRedDev("./libs/checknodes");
  const checkDependencies = fromNodeRedDev("./libs/checkdeps");
  const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const cli = createCli();
  const scorecard = {};

  // The same order as node-red-dev's validate command.
  await checkPackage(root, cli, scorecard, false);
  if (manifest["node-red"]?.nodes) {
    await checkNodes(root, cli, scorecard, false);
  }
  await checkDependencies(root, cli, scorecard, false);
  clearTimeout(deadline);

  console.log("\n    ---Summary---");
  let failed = 0;
  for (const id of EXPECTED_CHECKS) {
    const { outcome, detail } = judge(id, scorecard[id], manifest);
    failed += outcome === "FAILED" ? 1 : 0;
    console.log(`${id} ${outcome}${detail ? `: ${detail}` : ""}`);
  }
  return failed;
}

// node-red-dev's modules open a readline interface on stdin, which would keep the process alive.
main().then(
  (failed) => {
    console.log(failed === 0 ? "node-red-dev checks passed" : `${failed} node-red-dev check(s) failed`);
    process.exit(failed === 0 ? 0 : 1);
  },
  (error) => {
    console.error("node-red-dev checks stopped:", error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
