// Records how each message ends in an in-process Node-RED runtime (node-red-node-test-helper), through
// the runtime's `onComplete` hook. The hook runs on every call of a node's `done()` or `done(error)`,
// so a message that ends twice shows up as two entries.
import RED from "node-red";

interface CompleteEvent {
  msg: Record<string, unknown> & { _msgid?: string };
  error?: Error;
  node: { id: string };
}

interface Hooks {
  add(id: string, callback: (event: CompleteEvent) => void): void;
  remove(id: string): void;
}

export interface MessageEnd {
  msg: Record<string, unknown>;
  /** The error passed to done(), for a message that ended with one. */
  error?: Error;
}

let nextLabel = 0;

export class MessageEnds {
  private readonly byId = new Map<string, MessageEnd[]>();
  private readonly waiters = new Map<string, Array<(end: MessageEnd) => void>>();
  private readonly hookId: string;
  /** Number of done() calls seen, duplicates included. */
  count = 0;

  /** Starts recording the ends of messages that the node with this id receives. */
  constructor(private readonly nodeId: string) {
    this.hookId = `onComplete.messageEnds${nextLabel++}`;
    hooks().add(this.hookId, (event) => this.record(event));
  }

  /** Stops recording. */
  dispose(): void {
    hooks().remove(this.hookId);
  }

  /** Returns every recorded end of one message, in order. */
  endsOf(msgid: string): MessageEnd[] {
    return this.byId.get(msgid) ?? [];
  }

  /** Drops what was recorded for a message, so a long test does not keep every message alive. */
  forget(msgid: string): void {
    this.byId.delete(msgid);
  }

  /** Message ids with at least one end. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Resolves with the first end of a message, at once if it has ended already. */
  next(msgid: string): Promise<MessageEnd> {
    const [first] = this.endsOf(msgid);
    if (first) {
      return Promise.resolve(first);
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(msgid) ?? [];
      list.push(resolve);
      this.waiters.set(msgid, list);
    });
  }

  private record(event: CompleteEvent): void {
    if (event.node.id !== this.nodeId) {
      return;
    }
    this.count++;
    const msgid = String(event.msg._msgid);
    const end: MessageEnd = { msg: event.msg, error: event.error };
    const list = this.byId.get(msgid) ?? [];
    list.push(end);
    this.byId.set(msgid, list);

    const waiting = this.waiters.get(msgid);
    if (waiting) {
      this.waiters.delete(msgid);
      for (const resolve of waiting) {
        resolve(end);
      }
    }
  }
}

function hooks(): Hooks {
  // @types/node-red predates the hooks API, which node-red exports as RED.hooks since 2.0.
  return (RED as unknown as { hooks: Hooks }).hooks;
}

/** Unhandled rejections and uncaught exceptions seen while installed. */
export class ProcessErrorWatch {
  readonly errors: Array<{ kind: "unhandledRejection" | "uncaughtException"; error: unknown }> = [];
  private readonly onRejection = (error: unknown) => this.errors.push({ kind: "unhandledRejection", error });
  private readonly onException = (error: unknown) => this.errors.push({ kind: "uncaughtException", error });

  constructor() {
    process.on("unhandledRejection", this.onRejection);
    process.on("uncaughtException", this.onException);
  }

  dispose(): void {
    process.off("unhandledRejection", this.onRejection);
    process.off("uncaughtException", this.onException);
  }

  /** Lists what was seen, for assertion messages. */
  describe(): string {
    return this.errors.map(({ kind, error }) => `${kind}: ${error instanceof Error ? error.stack : String(error)}`).join("\n");
  }
}
