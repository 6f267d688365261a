declare module "node-red-node-test-helper" {
  import type { Node } from "node-red";

  type NodeInit = (RED: unknown) => void;
  interface LogSpy {
    args: Array<[{ level: number; msg: unknown; type?: string; id?: string }]>;
  }
  interface Helper {
    init(runtimePath: string, userSettings?: Record<string, unknown>): void;
    load(nodes: NodeInit | NodeInit[], flow: object[], credentials?: Record<string, object>): Promise<void>;
    unload(): Promise<void>;
    getNode(id: string): Node & { receive(msg: object): void };
    startServer(done?: () => void): Promise<void> | void;
    stopServer(done?: () => void): Promise<void> | void;
    log(): LogSpy;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    request(): any;
  }
  const helper: Helper;
  export = helper;
}
