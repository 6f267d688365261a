// The message catalogs and help texts under nodes/locales: every language has every file, key and
// `__param__` placeholder of en-US, every node has help in every language, and the editor HTML uses
// only keys that en-US defines.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "./support/runtime";

const NODES_DIR = path.join(REPO_ROOT, "nodes");
const LOCALES_DIR = path.join(NODES_DIR, "locales");
const REFERENCE = "en-US";
const PACKAGE_NAME = "node-red-contrib-zoom-presence";

type Catalog = Record<string, string>;

/** Flattens a message catalog to dotted keys, e.g. "zoom-account.label.name". */
function flatten(value: unknown, prefix = "", into: Catalog = {}): Catalog {
  if (typeof value === "string") {
    into[prefix] = value;
    return into;
  }
  assert.ok(value !== null && typeof value === "object" && !Array.isArray(value), `${prefix} is neither a string nor an object`);
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    flatten(child, prefix ? `${prefix}.${key}` : key, into);
  }
  return into;
}

function readCatalog(language: string, file: string): Catalog {
  return flatten(JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, language, file), "utf8")));
}

function placeholders(text: string): string[] {
  return [...new Set(text.match(/__[A-Za-z0-9_]+?__/g) ?? [])].sort();
}

function filesOf(language: string, extension: string): string[] {
  return fs
    .readdirSync(path.join(LOCALES_DIR, language))
    .filter((file) => file.endsWith(extension))
    .sort();
}

/** Node sets: the editor files nodes/<set>.html, which Node-RED pairs with locales/<lang>/<set>.json. */
function nodeSets(): string[] {
  return fs
    .readdirSync(NODES_DIR)
    .filter((file) => file.endsWith(".html"))
    .map((file) => file.slice(0, -".html".length))
    .sort();
}

function editorHtml(set: string): string {
  return fs.readFileSync(path.join(NODES_DIR, `${set}.html`), "utf8");
}

function registeredTypes(html: string): string[] {
  return [...html.matchAll(/RED\.nodes\.registerType\(\s*["']([^"']+)["']/g)].map((match) => match[1]);
}

function helpNames(html: string): string[] {
  return [...html.matchAll(/<script[^>]*type=["']text\/(?:markdown|html)["'][^>]*data-help-name=["']([^"']+)["']/g)].map((match) => match[1]);
}

/** Catalog keys of data-i18n attributes, e.g. "[placeholder]zoom-account.label.name;zoom-account.x". */
function attributeKeys(html: string): string[] {
  return [...html.matchAll(/data-i18n=["']([^"']+)["']/g)].flatMap((match) =>
    match[1].split(";").map((part) => part.replace(/^\[[^\]]+\]/, "").trim()),
  );
}

interface KeyUse {
  key: string;
  /** Parameter names of an inline object literal, or undefined when there is none. */
  params?: string[];
}

/** Literal keys passed to `_()` in the editor scripts, with the names of inline parameters. */
function scriptKeyUses(html: string): KeyUse[] {
  return [...html.matchAll(/\b_\(\s*"([^"]+)"\s*(?:,\s*\{([^{}]*)\})?\s*\)/g)].map((match) => ({
    key: match[1],
    params: match[2] === undefined ? undefined : [...match[2].matchAll(/(?:^|,)\s*([A-Za-z_$][\w$]*)\s*:/g)].map((param) => param[1]),
  }));
}

/** Resolves a key to the catalog file and key it names: "<set>.…" or "<package>/<set>:…". */
function resolveKey(set: string, key: string): { file: string; key: string } | undefined {
  const namespaced = /^([^:]+):(.+)$/.exec(key);
  if (!namespaced) {
    return { file: `${set}.json`, key };
  }
  const [, namespace, rest] = namespaced;
  if (!namespace.startsWith(`${PACKAGE_NAME}/`)) {
    // Another module's catalog, such as Node-RED's own "node-red:common.label.name".
    return undefined;
  }
  return { file: `${namespace.slice(PACKAGE_NAME.length + 1)}.json`, key: rest };
}

const languages = fs
  .readdirSync(LOCALES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const translations = languages.filter((language) => language !== REFERENCE);

describe("message catalogs", () => {
  it("include en-US, de and ja", () => {
    assert.deepEqual(languages, ["de", "en-US", "ja"]);
  });

  it("have a catalog for every node set", () => {
    assert.deepEqual(filesOf(REFERENCE, ".json"), nodeSets().map((set) => `${set}.json`).sort());
  });

  for (const language of translations) {
    describe(language, () => {
      it("has the same catalog files as en-US", () => {
        assert.deepEqual(filesOf(language, ".json"), filesOf(REFERENCE, ".json"));
      });

      for (const file of filesOf(REFERENCE, ".json")) {
        it(`${file} has every en-US key`, () => {
          const reference = readCatalog(REFERENCE, file);
          const translated = readCatalog(language, file);
          const missing = Object.keys(reference).filter((key) => !(key in translated));

          assert.deepEqual(missing, [], `${language}/${file} lacks keys`);
        });

        it(`${file} has no keys that en-US lacks`, () => {
          const reference = readCatalog(REFERENCE, file);
          const translated = readCatalog(language, file);
          const extra = Object.keys(translated).filter((key) => !(key in reference));

          assert.deepEqual(extra, [], `${language}/${file} has keys that en-US does not define`);
        });

        it(`${file} keeps every placeholder`, () => {
          const reference = readCatalog(REFERENCE, file);
          const translated = readCatalog(language, file);
          for (const key of Object.keys(reference).filter((name) => name in translated)) {
            assert.deepEqual(placeholders(translated[key]), placeholders(reference[key]), `${language}/${file} ${key}`);
          }
        });

        it(`${file} has no empty messages`, () => {
          const empty = Object.entries(readCatalog(language, file))
            .filter(([, text]) => text.trim() === "")
            .map(([key]) => key);

          assert.deepEqual(empty, []);
        });
      }
    });
  }
});

describe("help texts", () => {
  for (const language of languages) {
    for (const set of nodeSets()) {
      it(`${language} has help for every node in ${set}`, () => {
        const file = path.join(LOCALES_DIR, language, `${set}.html`);
        assert.ok(fs.existsSync(file), `missing ${path.relative(REPO_ROOT, file)}`);
        const help = fs.readFileSync(file, "utf8");

        assert.deepEqual(helpNames(help).sort(), registeredTypes(editorHtml(set)).sort());
      });
    }
  }

  // Node-RED's markdown renderer reads a run of lines that start with ":" as a property list
  // (": name (type) : description") only when each line has exactly two colons. One more colon in a
  // description turns the whole list into plain text.
  for (const language of languages) {
    for (const file of filesOf(language, ".html")) {
      it(`${language}/${file} property lists have two colons per line`, () => {
        const lines = fs.readFileSync(path.join(LOCALES_DIR, language, file), "utf8").split("\n");
        const broken = lines.filter((line) => line.startsWith(":") && !/^:[^:]+:[^:]*$/.test(line.trimEnd()));

        assert.deepEqual(broken, []);
      });
    }
  }

  for (const language of translations) {
    it(`${language} has the same help files as en-US`, () => {
      assert.deepEqual(filesOf(language, ".html"), filesOf(REFERENCE, ".html"));
    });
  }
});

describe("editor HTML", () => {
  for (const set of nodeSets()) {
    describe(`${set}.html`, () => {
      it("registers at least one node type", () => {
        assert.ok(registeredTypes(editorHtml(set)).length > 0);
      });

      it("uses only keys that en-US defines", () => {
        const html = editorHtml(set);
        const keys = [...attributeKeys(html), ...scriptKeyUses(html).map((use) => use.key)];
        const undefinedKeys = keys.filter((key) => {
          const target = resolveKey(set, key);
          return target !== undefined && !(target.key in readCatalog(REFERENCE, target.file));
        });

        assert.ok(keys.length > 0, "found no catalog keys, so nothing was checked");
        assert.deepEqual([...new Set(undefinedKeys)], []);
      });

      it("passes every placeholder a message needs", () => {
        for (const use of scriptKeyUses(editorHtml(set))) {
          const target = resolveKey(set, use.key);
          if (!target) {
            continue;
          }
          const needed = placeholders(readCatalog(REFERENCE, target.file)[target.key] ?? "").map((name) => name.slice(2, -2));
          const missing = needed.filter((name) => !(use.params ?? []).includes(name));

          assert.deepEqual(missing, [], `_("${use.key}") lacks parameters`);
        }
      });
    });
  }

  it("names the package's palette category description", () => {
    const descriptions = nodeSets().flatMap((set) => [...editorHtml(set).matchAll(/categoryDescription:\s*"([^"]+)"/g)].map((match) => ({ set, key: match[1] })));

    assert.ok(descriptions.length > 0, "no node declares a categoryDescription");
    for (const { set, key } of descriptions) {
      const target = resolveKey(set, key);
      assert.ok(target, `${key} does not name a catalog of this package`);
      for (const language of languages) {
        assert.ok(target.key in readCatalog(language, target.file), `${language}/${target.file} lacks ${target.key}`);
      }
    }
  });
});
