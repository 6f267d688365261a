// The editor side of the package in headless Chromium, against a real Node-RED with the package
// installed from its tarball and the Zoom emulator. The tests play a user who adds a zoom-presence
// node, creates its Zoom account, tests the connection, deploys and reopens the dialog. Screenshots
// of the dialogs go to SCREENSHOT_DIR (default: a new temporary folder), one subfolder per
// Node-RED version.
//
// Without Chromium the tests are skipped with a message, except when CI=true, where that is a failure.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { ZoomEmulator } from "../emulator/zoom-emulator";
import { CHROMIUM_PATH, dragFromPalette, openEditor, openNodeDialog, pageTexts, waitForEditor } from "./support/browser";
import type { EditorBrowser } from "./support/browser";
import { REPO_ROOT, startRuntime } from "./support/runtime";
import type { FlowNode, Runtime } from "./support/runtime";

const PACKAGE_NAME = "node-red-contrib-zoom-presence";
const ACCOUNT = { accountId: "browser-account", clientId: "browser-client", clientSecret: `browser-secret-${randomBytes(12).toString("hex")}` };
const WRONG_SECRET = `wrong-secret-${randomBytes(6).toString("hex")}`;
const USER_ID = "u1";

interface EditorWindow {
  RED: {
    settings: { version: string };
    nodes: {
      getType(type: string): { category?: string; icon?: string } | undefined;
      node(id: string): { credentials?: unknown } | undefined;
    };
    actions: { invoke(name: string): void };
  };
}

function screenshotFolder(nodeRedVersion: string): string {
  const base = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), "zoom-presence-screenshots-"));
  const folder = path.join(path.resolve(base), `node-red-${nodeRedVersion}`);
  fs.mkdirSync(folder, { recursive: true });
  return folder;
}

/** Reads the first paragraph of a node's en-US help as plain text. */
function helpIntroduction(type: string): string {
  const help = fs.readFileSync(path.join(REPO_ROOT, "nodes", "locales", "en-US", `${type}.html`), "utf8");
  const body = help.slice(help.indexOf(">") + 1);
  const paragraph = body.split(/\n\s*\n/).map((part) => part.trim()).find((part) => part !== "");
  assert.ok(paragraph, `${type} has no help text`);
  return paragraph.replace(/[*`_]/g, "").replace(/\s+/g, " ");
}

/**
 * Waits until the edit trays have finished sliding in, and removes the focus ring, which the dark
 * theme draws in the same red as a validation error.
 */
async function settleForScreenshot(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    document.getAnimations().every((animation) => {
      const target = (animation.effect as KeyframeEffect | null)?.target;
      return !(target instanceof Element && target.closest(".red-ui-tray")) || animation.playState !== "running";
    }),
  );
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

/** Counts the property lists of a node's en-US help: runs of lines that start with ":". */
function propertyListsIn(type: string): number {
  const help = fs.readFileSync(path.join(REPO_ROOT, "nodes", "locales", "en-US", `${type}.html`), "utf8");
  const lines = help.split("\n");
  return lines.filter((line, index) => line.startsWith(":") && !lines[index - 1]?.startsWith(":")).length;
}

async function runTestConnection(page: Page): Promise<{ text: string; className: string }> {
  await page.click("#node-config-zoom-account-test");
  await page.waitForFunction(() => /zoom-account-test-(ok|warning|failed)/.test(document.querySelector("#node-config-zoom-account-test-result")?.className ?? ""), null, { timeout: 30000 });
  const result = page.locator("#node-config-zoom-account-test-result");
  return { text: (await result.textContent()) ?? "", className: (await result.getAttribute("class")) ?? "" };
}

async function openAccountFromPresence(page: Page, presenceId: string): Promise<void> {
  await openNodeDialog(page, presenceId);
  await page.click("#node-input-btn-account-edit");
  await page.waitForSelector("#node-config-input-clientSecret", { state: "visible" });
  // The dialog fills in the credentials when the response to GET /credentials/zoom-account/:id arrives.
  await page.waitForFunction((accountId) => (document.querySelector("#node-config-input-accountId") as HTMLInputElement | null)?.value === accountId, ACCOUNT.accountId);
}

/** Cancels the config node dialog, then the node dialog under it, waiting for each to close. */
async function closeDialogs(page: Page): Promise<void> {
  for (const cancel of ["#node-config-dialog-cancel", "#node-dialog-cancel"]) {
    if ((await page.locator(cancel).count()) > 0) {
      await page.click(cancel);
      await page.waitForSelector(cancel, { state: "detached" });
    }
  }
  await page.waitForSelector(".red-ui-tray", { state: "detached" });
}

async function showHelpOf(page: Page, nodeId: string): Promise<void> {
  await page.locator(`g.red-ui-flow-node-group[id="${nodeId}"] rect.red-ui-flow-node`).click();
  // The same action as the book button of the sidebar, whose place differs between Node-RED 4 and 5.
  await page.evaluate(() => (window as unknown as EditorWindow).RED.actions.invoke("core:show-help-tab"));
  await page.waitForSelector(".red-ui-sidebar-help-stack .red-ui-help", { state: "visible" });
}

describe("editor in Chromium", function () {
  this.timeout(120000);

  let emulator: ZoomEmulator;
  let runtime: Runtime;
  let browser: EditorBrowser;
  let page: Page;
  let nodeRedVersion: string;
  let screenshots: string;
  let presenceId: string;
  /** Node types of the package that the palette shows, found by the first test. */
  let paletteTypes: string[] = [];

  const screenshot = async (name: string) => {
    await settleForScreenshot(page);
    await page.screenshot({ path: path.join(screenshots, `${name}.png`) });
  };

  before(async function () {
    if (!fs.existsSync(CHROMIUM_PATH)) {
      const message = `Chromium not found at ${CHROMIUM_PATH}: install it with "apt-get install chromium" or set CHROMIUM_PATH.`;
      if (process.env.CI === "true") {
        throw new Error(`${message} CI=true, so the browser tests may not be skipped.`);
      }
      console.log(`    Skipping the browser tests. ${message}`);
      this.skip();
    }
    this.timeout(240000);

    emulator = await ZoomEmulator.start({ accounts: [ACCOUNT], users: [{ id: USER_ID, email: "desk@example.com" }] });
    runtime = await startRuntime();
    browser = await openEditor({ editorUrl: runtime.url });
    page = browser.page;
    nodeRedVersion = await page.evaluate(() => (window as unknown as EditorWindow).RED.settings.version);
    screenshots = screenshotFolder(nodeRedVersion);
    console.log(`    Screenshots of the dialogs: ${screenshots}`);
  });

  after(async () => {
    await browser?.close();
    await runtime?.stop();
    await emulator?.close();
  });

  it("shows every node under Zoom with its icon", async () => {
    const types = (await runtime.getNodeSets()).filter((nodeSet) => nodeSet.module === PACKAGE_NAME).flatMap((nodeSet) => nodeSet.types);
    const definitions = await page.evaluate(
      (names) => names.map((type) => ({ type, ...(window as unknown as EditorWindow).RED.nodes.getType(type) })),
      types,
    );
    const expected = definitions.filter((definition) => definition.category !== "config");
    paletteTypes = expected.map((definition) => definition.type);
    const paletteEntries = await page.$$eval("#red-ui-palette-base-category-Zoom .red-ui-palette-node", (entries) =>
      entries.map((entry) => ({
        type: entry.getAttribute("data-palette-type"),
        icon: (entry.querySelector(".red-ui-palette-icon") as HTMLElement | null)?.style.backgroundImage,
      })),
    );

    assert.ok(expected.some((definition) => definition.type === "zoom-presence"), "zoom-presence is not a palette node");
    assert.deepEqual(paletteEntries.map((entry) => entry.type).sort(), expected.map((definition) => definition.type).sort());
    assert.equal((await page.textContent("#red-ui-palette-header-Zoom"))?.trim(), "Zoom");

    for (const definition of expected) {
      const entry = paletteEntries.find((item) => item.type === definition.type);
      const url = `icons/${PACKAGE_NAME}/${definition.icon}`;
      assert.equal(entry?.icon, `url("${url}")`, `palette icon of ${definition.type}`);
      const icon = await page.evaluate(async (src) => {
        const response = await fetch(src);
        const image = new Image();
        image.src = src;
        await image.decode();
        return { status: response.status, contentType: response.headers.get("content-type"), width: image.naturalWidth };
      }, url);
      assert.equal(icon.status, 200, `${url} status`);
      assert.match(icon.contentType ?? "", /^image\/svg\+xml/, `${url} content type`);
      assert.ok(icon.width > 0, `${url} did not render`);
    }
  });

  it("marks a DND duration of 2000 invalid", async () => {
    presenceId = await dragFromPalette(page, "zoom-presence", "zoom presence");
    await openNodeDialog(page, presenceId);
    await page.waitForSelector("#node-input-duration", { state: "visible" });
    const duration = page.locator("#node-input-duration");

    await duration.fill("2000");
    await duration.press("Tab");
    assert.match((await duration.getAttribute("class")) ?? "", /\binput-error\b/);
    await screenshot("light-zoom-presence-invalid-duration");

    await duration.fill("30");
    await duration.press("Tab");
    assert.doesNotMatch((await duration.getAttribute("class")) ?? "", /\binput-error\b/);
    // typedInput hides the original input and shows its own text field beside it.
    const userId = page.locator("#node-input-userId + .red-ui-typedInput-container input.red-ui-typedInput-input");
    await userId.fill(USER_ID);
    await userId.press("Tab");
    assert.equal(await page.inputValue("#node-input-userId"), USER_ID);
    await screenshot("light-zoom-presence-dialog");
  });

  it("reports the granted scopes from Test connection", async () => {
    await page.click("#node-input-btn-account-add");
    await page.waitForSelector("#node-config-input-accountId", { state: "visible" });
    await page.selectOption("#node-config-input-cloud", "custom");
    await page.fill("#node-config-input-apiBaseUrl", emulator.apiBaseUrl);
    await page.fill("#node-config-input-oauthBaseUrl", emulator.oauthBaseUrl);
    await page.fill("#node-config-input-accountId", ACCOUNT.accountId);
    await page.fill("#node-config-input-clientId", ACCOUNT.clientId);
    await page.fill("#node-config-input-clientSecret", ACCOUNT.clientSecret);

    const result = await runTestConnection(page);

    assert.equal(result.text, "Connected. Granted scopes: user:read:admin, user:write:admin");
    assert.match(result.className, /\bzoom-account-test-ok\b/);
    const tokenRequests = emulator.requestsFor("token");
    assert.equal(tokenRequests.length, 1);
    assert.equal(tokenRequests[0].headers.authorization, `Basic ${Buffer.from(`${ACCOUNT.clientId}:${ACCOUNT.clientSecret}`).toString("base64")}`);
    assert.equal(tokenRequests[0].statusCode, 200);
    await screenshot("light-zoom-account-test-ok");
  });

  it("reports a wrong client secret from Test connection", async () => {
    await page.fill("#node-config-input-clientSecret", WRONG_SECRET);

    const result = await runTestConnection(page);

    assert.match(result.text, /^Connection failed: Zoom rejected the credentials: .+ \(check the account ID, client ID and client secret\)$/);
    assert.match(result.className, /\bzoom-account-test-failed\b/);
    assert.ok(!result.text.includes(WRONG_SECRET), "the result shows the secret");
    const tokenRequests = emulator.requestsFor("token");
    assert.equal(tokenRequests.length, 2);
    assert.equal(tokenRequests[1].headers.authorization, `Basic ${Buffer.from(`${ACCOUNT.clientId}:${WRONG_SECRET}`).toString("base64")}`);
    assert.equal(tokenRequests[1].statusCode, 401);
    await screenshot("light-zoom-account-test-failed");
  });

  it("deploys the node and its account", async () => {
    await page.fill("#node-config-input-clientSecret", ACCOUNT.clientSecret);
    await page.click("#node-config-dialog-ok");
    await page.waitForSelector("#node-config-input-accountId", { state: "detached" });
    await page.click("#node-dialog-ok");
    await page.waitForSelector(".red-ui-tray", { state: "detached" });
    await page.click("#red-ui-header-button-deploy");

    const deployed = await waitForDeployedPresence(runtime, presenceId);
    const account = deployed.find((node) => node.type === "zoom-account");
    const presence = deployed.find((node) => node.id === presenceId);

    assert.ok(account, "no zoom-account was deployed");
    assert.equal(presence?.account, account.id);
    assert.equal(presence?.userId, USER_ID);
    assert.equal(String(presence?.duration), "30");
    assert.equal(account.cloud, "custom");
    assert.equal(account.apiBaseUrl, emulator.apiBaseUrl);
    assert.equal(account.oauthBaseUrl, emulator.oauthBaseUrl);
    assert.equal(account.configVersion, 1);
    assert.equal(account.credentials, undefined);
    const storedFlows = JSON.stringify(runtime.readFlowsFile());
    const storedCredentials = runtime.readCredentialsFile() ?? "";
    assert.ok(storedCredentials.length > 0, "flows_cred.json was not written");
    for (const text of [storedFlows, storedCredentials, JSON.stringify(deployed)]) {
      assert.ok(!text.includes(ACCOUNT.clientSecret), "a flow file or GET /flows contains the client secret");
    }
  });

  it("keeps the secret out of the reopened config dialog", async () => {
    const requestsBefore = browser.requests.length;
    await page.reload();
    await waitForEditor(page);
    await openAccountFromPresence(page, presenceId);

    assert.equal(await page.inputValue("#node-config-input-clientSecret"), "__PWRD__");
    for (const text of await pageTexts(page)) {
      assert.ok(!text.includes(ACCOUNT.clientSecret), "the page contains the client secret");
    }
    const credentials = await page.evaluate(() => {
      const red = (window as unknown as EditorWindow).RED;
      const ids: string[] = [];
      (red.nodes as unknown as { eachConfig(callback: (node: { id: string; type: string }) => void): void }).eachConfig((node) => {
        if (node.type === "zoom-account") {
          ids.push(node.id);
        }
      });
      return ids.map((id) => JSON.stringify(red.nodes.node(id)?.credentials ?? {}));
    });
    assert.equal(credentials.length, 1);
    assert.ok(!credentials[0].includes(ACCOUNT.clientSecret), "the editor holds the client secret");

    const result = await runTestConnection(page);
    assert.equal(result.text, "Connected. Granted scopes: user:read:admin, user:write:admin");
    await screenshot("light-zoom-account-reopened");

    await browser.settleResponses();
    const credentialResponses = browser.responses.filter((response) => /\/credentials\/zoom-account\//.test(response.url));
    assert.ok(credentialResponses.length > 0, "the dialog did not request the stored credentials");
    const stored = JSON.parse(credentialResponses.at(-1)!.body) as Record<string, unknown>;
    assert.equal(stored.accountId, ACCOUNT.accountId);
    assert.equal(stored.clientId, ACCOUNT.clientId);
    assert.equal(stored.has_clientSecret, true);
    assert.equal(stored.clientSecret, undefined);
    for (const response of browser.responses) {
      assert.ok(!response.body.includes(ACCOUNT.clientSecret), `the response of ${response.url} contains the client secret`);
    }
    for (const request of browser.requests.slice(requestsBefore)) {
      assert.ok(!request.body.includes(ACCOUNT.clientSecret), `${request.method} ${request.url} sent the client secret after the reload`);
    }
    assert.equal(runtime.logs.find((line) => line.includes(ACCOUNT.clientSecret)), undefined, "a Node-RED log line contains the client secret");
    await closeDialogs(page);
  });

  it("shows the node's help in the help sidebar", async () => {
    await showHelpOf(page, presenceId);
    const help = page.locator(".red-ui-sidebar-help-stack .red-ui-help").first();
    const text = ((await help.textContent()) ?? "").replace(/\s+/g, " ");
    const headings = await help.locator("h3").allTextContents();

    assert.equal((await page.locator(".red-ui-sidebar-help-stack .red-ui-help-title").first().textContent())?.trim(), "zoom presence");
    assert.ok(text.includes(helpIntroduction("zoom-presence")), `the help sidebar shows: ${text.slice(0, 200)}`);
    assert.deepEqual(headings.map((heading) => heading.trim()).slice(0, 3), ["Inputs", "Outputs", "Details"]);
    // Each run of ": name (type) : description" lines renders as one of Node-RED's boxed property lists.
    assert.equal(await help.locator("dl.message-properties").count(), propertyListsIn("zoom-presence"));
    await screenshot("light-help-sidebar");
  });

  it("opens the dialogs of the other nodes", async () => {
    await screenshotOtherDialogs("light");
  });

  it("takes the dialog screenshots in the dark theme", async function () {
    const major = Number(nodeRedVersion.split(".")[0]);
    if (!(major >= 5)) {
      console.log(`    Node-RED ${nodeRedVersion} has no built-in dark theme, so the dark screenshots come from a Node-RED 5 run.`);
      this.skip();
    }

    // Node-RED 5 keeps its Appearance setting (auto, light or dark) in localStorage.
    await page.evaluate(() => window.localStorage.setItem("view-dark-theme", "dark"));
    await page.reload();
    await waitForEditor(page);
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains("nr-theme-dark")), true, "the dark theme is not applied");

    await openNodeDialog(page, presenceId);
    await page.waitForSelector("#node-input-duration", { state: "visible" });
    await screenshot("dark-zoom-presence-dialog");
    await page.locator("#node-input-duration").fill("2000");
    await page.locator("#node-input-duration").press("Tab");
    assert.match((await page.getAttribute("#node-input-duration", "class")) ?? "", /\binput-error\b/);
    await screenshot("dark-zoom-presence-invalid-duration");
    await closeDialogs(page);

    await openAccountFromPresence(page, presenceId);
    assert.match((await runTestConnection(page)).className, /\bzoom-account-test-ok\b/);
    await screenshot("dark-zoom-account-test-ok");
    await page.fill("#node-config-input-clientSecret", WRONG_SECRET);
    assert.match((await runTestConnection(page)).className, /\bzoom-account-test-failed\b/);
    await screenshot("dark-zoom-account-test-failed");
    await closeDialogs(page);

    await showHelpOf(page, presenceId);
    await screenshot("dark-help-sidebar");
    await screenshotOtherDialogs("dark");
  });

  /** Adds each palette node other than zoom-presence, screenshots its dialog and deletes it again. */
  async function screenshotOtherDialogs(theme: "light" | "dark"): Promise<void> {
    for (const type of paletteTypes.filter((name) => name !== "zoom-presence")) {
      const id = await dragFromPalette(page, type, type.replace(/-/g, " "));
      await openNodeDialog(page, id);
      await screenshot(`${theme}-${type}-dialog`);
      await page.click("#node-dialog-delete");
      await page.waitForSelector(".red-ui-tray", { state: "detached" });
      const remaining = await page.evaluate((nodeId) => (window as unknown as EditorWindow).RED.nodes.node(nodeId) !== undefined, id);
      assert.equal(remaining, false, `${type} was not deleted`);
    }
  }

  it("requests nothing from other hosts", () => {
    assert.deepEqual(browser.blockedRequests, []);
  });
});

async function waitForDeployedPresence(runtime: Runtime, presenceId: string): Promise<FlowNode[]> {
  const deadline = Date.now() + 30000;
  for (;;) {
    const flows = await runtime.getFlows();
    if (flows.some((node) => node.id === presenceId)) {
      return flows;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for node ${presenceId} in GET /flows: ${JSON.stringify(flows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
