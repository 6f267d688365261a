import type { Node } from "node-red";
import { AccountConnection, AccountCredentials, AccountSettings } from "../zoom/account";

/** A deployed `zoom-account` config node, as the nodes that use it see it. */
export interface ZoomAccountNode extends Node<AccountCredentials> {
  settings: AccountSettings;
  /** Returns the shared connection, or throws the configuration error (missing credentials, bad URL). */
  connection(): AccountConnection;
}
