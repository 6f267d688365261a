/**
 * The `zoom-account` config node: a Zoom app's credentials and the limits of its account. It builds
 * one connection (client, token source, limits) that the presence nodes use, and serves the editor's
 * "Test connection" button.
 */
import type { NodeAPI, NodeDef } from "node-red";
import type { Request, Response } from "express";
import { ZoomAccountNode } from "./common/account-node";
import { AccountConnection, AccountCredentials, AccountSettings, createConnection, migrateAccountSettings, resolveBaseUrls } from "./zoom/account";
import { InputError } from "./zoom/errors";
import { StaticTokenSource, requestToken, tokenUrlFor } from "./zoom/token";
import { ZoomClient } from "./zoom/client";
import { errorText } from "./common/i18n";

type ZoomAccountDef = NodeDef & Record<string, unknown>;

/** Scopes that presence updates need: either the classic scope or the granular one. */
const NEEDED_SCOPES: Array<{ any: string[]; purpose: string }> = [
  { any: ["user:write:admin", "user:update:presence_status:admin"], purpose: "set presence" },
  { any: ["user:read:admin", "user:read:presence_status:admin"], purpose: "read presence" },
];

/** The placeholder Node-RED's editor sends for a password credential that is stored but not shown. */
const STORED_PASSWORD = "__PWRD__";

export = function register(RED: NodeAPI): void {
  function ZoomAccount(this: ZoomAccountNode, config: ZoomAccountDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.settings = migrateAccountSettings(config);

    let connection: AccountConnection | undefined;
    let configError: unknown;
    try {
      connection = createConnection(node.settings, node.credentials ?? {}, node.id);
    } catch (error) {
      configError = error;
      node.warn(errorText(RED, "zoom-account", error));
    }

    node.connection = () => {
      if (!connection) {
        throw configError;
      }
      return connection;
    };
  }

  RED.nodes.registerType("zoom-account", ZoomAccount as never, {
    credentials: {
      accountId: { type: "text" },
      clientId: { type: "text" },
      clientSecret: { type: "password" },
      accessToken: { type: "password" },
      webhookSecretToken: { type: "password" },
    },
  });

  RED.httpAdmin.post("/zoom-account/test", RED.auth.needsPermission("zoom-account.write"), (request: Request, response: Response) => {
    testConnection(request.body ?? {}).then(
      (result) => response.json(result),
      (error: unknown) => response.json({ ok: false, error: errorText(RED, "zoom-account", error) }),
    );
  });

  /**
   * Gets a token with the values entered in the editor, which may not be deployed yet. Password fields
   * that still hold the placeholder fall back to the stored credentials of that config node.
   */
  async function testConnection(body: Record<string, unknown>): Promise<{ ok: true; scopes: string[]; missingScopes: string[] }> {
    const settings = migrateAccountSettings(body);
    const entered = (typeof body.credentials === "object" && body.credentials !== null ? body.credentials : {}) as Record<string, unknown>;
    const stored = (typeof body.id === "string" ? RED.nodes.getCredentials(body.id) : undefined) as AccountCredentials | undefined;
    const credentials: AccountCredentials = {};
    let storedSecretUsed = false;
    for (const field of ["accountId", "clientId", "clientSecret", "accessToken"] as const) {
      const value = typeof entered[field] === "string" ? (entered[field] as string) : undefined;
      const useStored = value === STORED_PASSWORD || value === undefined;
      credentials[field] = useStored ? stored?.[field] : value;
      if (useStored && stored?.[field] && (field === "clientSecret" || field === "accessToken")) {
        storedSecretUsed = true;
      }
    }

    // A stored secret goes only to the hosts it was deployed for, so a request that names other base
    // URLs cannot make Node-RED send the secret elsewhere.
    if (storedSecretUsed && !sameHostsAsDeployed(typeof body.id === "string" ? body.id : "", settings)) {
      throw new InputError(
        "credentials",
        "Enter the client secret or access token again: a stored secret is sent only to the base URLs it was deployed with",
        { key: "errors.stored-secret-hosts" },
      );
    }

    // Building the connection checks the URLs and that the credentials are present.
    const connection = createConnection(settings, credentials, typeof body.id === "string" ? body.id : "test");

    if (settings.authType === "token") {
      const client = new ZoomClient({ apiBaseUrl: connection.apiBaseUrl, tokens: new StaticTokenSource(credentials.accessToken ?? ""), timeoutMs: connection.timeoutMs });
      await client.getPresence("me");
      return { ok: true, scopes: [], missingScopes: [] };
    }

    const { oauthBaseUrl } = resolveBaseUrls(settings);
    const { token } = await requestToken(
      tokenUrlFor(oauthBaseUrl),
      { accountId: credentials.accountId ?? "", clientId: credentials.clientId ?? "", clientSecret: credentials.clientSecret ?? "" },
      connection.timeoutMs,
    );
    const scopes = token.scope.split(/\s+/).filter(Boolean);
    const missingScopes = NEEDED_SCOPES.filter((need) => !need.any.some((scope) => scopes.includes(scope))).map(
      (need) => `${need.any.join(" or ")} (${need.purpose})`,
    );
    return { ok: true, scopes, missingScopes };
  }

  /** True when the settings resolve to the same API and OAuth base URLs as the deployed config node. */
  function sameHostsAsDeployed(id: string, settings: AccountSettings): boolean {
    const deployed = id ? (RED.nodes.getNode(id) as ZoomAccountNode | null) : null;
    if (!deployed?.settings) {
      return false;
    }
    try {
      const requested = resolveBaseUrls(settings);
      const current = resolveBaseUrls(deployed.settings);
      return requested.apiBaseUrl === current.apiBaseUrl && requested.oauthBaseUrl === current.oauthBaseUrl;
    } catch (error) {
      // An invalid base URL on either side cannot match; createConnection() reports it to the user.
      if (error instanceof InputError) {
        return false;
      }
      throw error;
    }
  }
};
