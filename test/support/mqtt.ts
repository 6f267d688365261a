// An in-process MQTT broker (aedes) and client helpers for the end-to-end tests.
import net from "node:net";
import type { AddressInfo } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";

export interface Broker {
  port: number;
  /** mqtt://127.0.0.1:PORT */
  url: string;
  /** Resolves once a connected client has a subscription whose filter is exactly `topic`. */
  waitForSubscription(topic: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Starts aedes on 127.0.0.1 with a free port. */
export async function startBroker(): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const subscriptionsByClient = new Map<string, Set<string>>();
  const waiters = new Set<() => void>();

  const notifyWaiters = () => {
    for (const waiter of [...waiters]) {
      waiter();
    }
  };
  aedes.on("subscribe", (subscriptions, client) => {
    const topics = subscriptionsByClient.get(client.id) ?? new Set<string>();
    for (const subscription of subscriptions) {
      topics.add(subscription.topic);
    }
    subscriptionsByClient.set(client.id, topics);
    notifyWaiters();
  });
  aedes.on("unsubscribe", (topics, client) => {
    for (const topic of topics) {
      subscriptionsByClient.get(client.id)?.delete(topic);
    }
  });
  aedes.on("clientDisconnect", (client) => {
    subscriptionsByClient.delete(client.id);
  });

  const isSubscribed = (topic: string) =>
    [...subscriptionsByClient.values()].some((topics) => topics.has(topic));

  const server = net.createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,

    waitForSubscription(topic, timeoutMs = 10000) {
      if (isSubscribed(topic)) {
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`No client subscribed to "${topic}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          if (isSubscribed(topic)) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      });
    },

    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects a client that does not reconnect, so a broken broker fails the test instead of hanging it. */
export function connectMqtt(url: string, clientId?: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
}

/** Matches an MQTT topic against a subscription filter with + and # wildcards. */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split("/");
  const topicLevels = topic.split("/");

  for (let i = 0; i < filterLevels.length; i++) {
    if (filterLevels[i] === "#") {
      return true;
    }
    if (i >= topicLevels.length) {
      return false;
    }
    if (filterLevels[i] !== "+" && filterLevels[i] !== topicLevels[i]) {
      return false;
    }
  }
  return filterLevels.length === topicLevels.length;
}

/**
 * Resolves with the next message on `topic` (a filter) that the client receives after this call.
 * The client must already be subscribed to a matching filter.
 */
export function nextMessage(client: MqttClient, topic: string, timeoutMs = 10000): Promise<ReceivedMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (receivedTopic: string, payload: Buffer, packet: { retain?: boolean }) => {
      if (!topicMatches(topic, receivedTopic)) {
        return;
      }
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve({ topic: receivedTopic, payload: payload.toString("utf8"), retain: packet.retain === true });
    };
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`No message on "${topic}" within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on("message", onMessage);
  });
}

export interface MessageRecorder {
  /** Every message on the topic since subscribing, oldest first. */
  messages: ReceivedMessage[];
  /** Resolves once `count` messages in total have arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  stop(): void;
}

/** Subscribes the client to `topic` and records every message that arrives on it. */
export async function recordMessages(client: MqttClient, topic: string): Promise<MessageRecorder> {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<() => void>();

  const onMessage = (receivedTopic: string, payload: Buffer, packet: { retain?: boolean }) => {
    if (!topicMatches(topic, receivedTopic)) {
      return;
    }
    messages.push({ topic: receivedTopic, payload: payload.toString("utf8"), retain: packet.retain === true });
    for (const waiter of [...waiters]) {
      waiter();
    }
  };
  client.on("message", onMessage);
  await client.subscribeAsync(topic, { qos: 1 });

  return {
    messages,

    waitForCount(count, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(messages);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const received = JSON.stringify(messages.map((message) => message.payload));
          reject(new Error(`Expected ${count} messages on "${topic}" within ${timeoutMs} ms, got ${received}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },

    stop() {
      client.off("message", onMessage);
    },
  };
}
