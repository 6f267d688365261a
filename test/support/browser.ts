// Headless Chromium driving the Node-RED editor of a test runtime, through playwright-core and the
// Chromium that the operating system provides (Debian package `chromium`).
//
// The browser gets a new profile directory each time, and every request it makes to a host other
// than the runtime is aborted and recorded, so a test can assert that the editor stayed local.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext, Page, Request, Response } from "playwright-core";

/** The Chromium binary: CHROMIUM_PATH, else the path of Debian's chromium package. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export interface RecordedResponse {
  url: string;
  status: number;
  body: string;
}

export interface RecordedRequest {
  url: string;
  method: string;
  body: string;
}

export interface EditorBrowser {
  context: BrowserContext;
  page: Page;
  /** Every request to the runtime with its body, in the order they were sent. */
  requests: RecordedRequest[];
  /** URLs the page tried to load from hosts other than the runtime; each was aborted. */
  blockedRequests: string[];
  /** Every response from the runtime with its body, in the order they finished. */
  responses: RecordedResponse[];
  /** Waits for the bodies of the responses seen so far. */
  settleResponses(): Promise<void>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** The editor's URL, e.g. http://127.0.0.1:PORT/. */
  editorUrl: string;
  /** Entries written to the editor's localStorage before any page script runs. */
  localStorage?: Record<string, string>;
  viewport?: { width: number; height: number };
}

/** Starts Chromium with a new profile and opens the editor. Resolves once the palette is built. */
export async function openEditor(options: LaunchOptions): Promise<EditorBrowser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "zoom-presence-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: options.viewport ?? { width: 1400, height: 1800 },
    locale: "en-US",
  });

  const editorOrigin = new URL(options.editorUrl).origin;
  const blockedRequests: string[] = [];
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    if (new URL(url).origin === editorOrigin) {
      await route.continue();
      return;
    }
    blockedRequests.push(url);
    await route.abort("blockedbyclient");
  });

  if (options.localStorage) {
    await context.addInitScript((entries: Record<string, string>) => {
      for (const [key, value] of Object.entries(entries)) {
        window.localStorage.setItem(key, value);
      }
    }, options.localStorage);
  }

  const requests: RecordedRequest[] = [];
  const responses: RecordedResponse[] = [];
  const pendingBodies = new Set<Promise<void>>();
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (request: Request) => {
    if (new URL(request.url()).origin === editorOrigin) {
      requests.push({ url: request.url(), method: request.method(), body: request.postData() ?? "" });
    }
  });
  page.on("response", (response: Response) => {
    if (new URL(response.url()).origin !== editorOrigin) {
      return;
    }
    const reading = response
      .body()
      .then(
        (body) => responses.push({ url: response.url(), status: response.status(), body: body.toString("utf8") }),
        // Redirects and responses of a page that navigated away have no body to read.
        () => responses.push({ url: response.url(), status: response.status(), body: "" }),
      )
      .then(() => undefined);
    pendingBodies.add(reading);
    reading.finally(() => pendingBodies.delete(reading));
  });

  await page.goto(options.editorUrl);
  await waitForEditor(page);

  return {
    context,
    page,
    blockedRequests,
    requests,
    responses,
    async settleResponses() {
      await Promise.all([...pendingBodies]);
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the editor has drawn the palette, loaded the flows (each flow is a workspace tab, and
 * an empty runtime gets "Flow 1") and hidden its loading bar.
 */
export async function waitForEditor(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const loading = document.querySelector("#red-ui-loading-progress") as HTMLElement | null;
      return (
        document.querySelector(".red-ui-palette-node") !== null &&
        document.querySelector("#red-ui-workspace-tabs .red-ui-tab") !== null &&
        (loading === null || loading.offsetParent === null)
      );
    },
    null,
    { timeout: 60000 },
  );
}

/**
 * Drags a node type from the palette onto the workspace, as a user would: it filters the palette,
 * then moves the mouse in steps so that jQuery UI's draggable and droppable see a real drag.
 * Returns the id of the new node.
 */
export async function dragFromPalette(page: Page, type: string, filter: string): Promise<string> {
  const before = await nodeIds(page);
  const search = page.locator("#red-ui-palette-search input");
  await search.fill("");
  await search.pressSequentially(filter);
  // The palette hides the entries that do not match after a short delay, which moves the others.
  await page.locator('.red-ui-palette-node[data-palette-type="inject"]').waitFor({ state: "hidden" });
  const source = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
  await source.waitFor({ state: "visible" });
  await source.scrollIntoViewIfNeeded();

  const from = await source.boundingBox();
  const chart = await page.locator("#red-ui-workspace-chart").boundingBox();
  if (!from || !chart) {
    throw new Error(`The palette entry of ${type} or the workspace is not visible`);
  }
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2 + 10, from.y + from.height / 2 + 10, { steps: 5 });
  await page.mouse.move(chart.x + 300, chart.y + 200, { steps: 20 });
  await page.mouse.up();

  const added = await page
    .waitForFunction(
      (known) => {
        const ids: string[] = [];
        const red = (window as unknown as { RED: { nodes: { eachNode(callback: (node: { id: string }) => void): void } } }).RED;
        red.nodes.eachNode((node) => ids.push(node.id));
        const fresh = ids.filter((id) => !known.includes(id));
        return fresh.length > 0 ? fresh : undefined;
      },
      before,
      { timeout: 5000 },
    )
    .then((handle) => handle.jsonValue() as Promise<string[]>, () => [] as string[]);
  if (added.length !== 1) {
    throw new Error(`Dragging ${type} onto the workspace added ${added.length} nodes`);
  }
  return added[0];
}

function nodeIds(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const ids: string[] = [];
    const red = (window as unknown as { RED: { nodes: { eachNode(callback: (node: { id: string }) => void): void } } }).RED;
    red.nodes.eachNode((node) => ids.push(node.id));
    return ids;
  });
}

/** Opens a node's edit dialog by double-clicking it on the workspace. */
export async function openNodeDialog(page: Page, id: string): Promise<void> {
  await page.locator(`g.red-ui-flow-node-group[id="${id}"] rect.red-ui-flow-node`).dblclick();
  await page.waitForSelector(".red-ui-tray .red-ui-tray-body", { state: "visible" });
}

/** Collects every text of the page that could contain a secret: the HTML, form values and web storage. */
export function pageTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const texts = [document.documentElement.outerHTML];
    for (const field of Array.from(document.querySelectorAll("input, textarea, select"))) {
      texts.push((field as HTMLInputElement).value);
    }
    for (const storage of [window.localStorage, window.sessionStorage]) {
      for (let index = 0; index < storage.length; index++) {
        const key = storage.key(index) ?? "";
        texts.push(key, storage.getItem(key) ?? "");
      }
    }
    return texts;
  });
}
