// A minimal HTTP forward proxy on 127.0.0.1 for tests: absolute-URI requests (GET http://host/path)
// and CONNECT tunnels, to loopback targets only. It records what it forwards, including the request
// lines inside plain-HTTP tunnels.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface ProxiedExchange {
  kind: "absolute" | "connect";
  /** The absolute URI of a forwarded request, or host:port of a tunnel. */
  target: string;
  /** The Proxy-Authorization header the client sent, if any. */
  proxyAuthorization?: string;
  /** Response status the proxy sent: 200 for an open tunnel, the upstream status, or its own error. */
  statusCode: number;
}

export interface ForwardProxy {
  /** http://127.0.0.1:PORT, the value for HTTP_PROXY. */
  url: string;
  port: number;
  exchanges: ProxiedExchange[];
  /** "METHOD path" of every HTTP request seen inside a CONNECT tunnel, in order. */
  tunnelledRequests: string[];
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
const REQUEST_LINE = /(?:^|\r\n)([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/g;

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** Starts a proxy on an ephemeral port of 127.0.0.1. Targets other than loopback get 403. */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const exchanges: ProxiedExchange[] = [];
  const tunnelledRequests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer();

  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  server.on("request", (request: http.IncomingMessage, response: http.ServerResponse) => {
    const exchange: ProxiedExchange = { kind: "absolute", target: request.url ?? "", proxyAuthorization: request.headers["proxy-authorization"], statusCode: 0 };
    exchanges.push(exchange);

    let target: URL;
    try {
      target = new URL(request.url ?? "");
    } catch {
      // An origin-form request ("/path") is for a server, not for a proxy.
      exchange.statusCode = 400;
      response.writeHead(400).end("expected an absolute URI");
      return;
    }
    if (target.protocol !== "http:" || !isLoopback(target.hostname)) {
      exchange.statusCode = 403;
      response.writeHead(403).end("this test proxy forwards only to loopback addresses");
      return;
    }

    const headers = { ...request.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = http.request(target, { method: request.method, headers }, (upstreamResponse) => {
      exchange.statusCode = upstreamResponse.statusCode ?? 0;
      response.writeHead(exchange.statusCode, upstreamResponse.headers);
      upstreamResponse.pipe(response);
    });
    upstream.on("error", () => {
      exchange.statusCode = 502;
      response.writeHead(502).end("upstream connection failed");
    });
    request.pipe(upstream);
  });

  server.on("connect", (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = request.url ?? "";
    const exchange: ProxiedExchange = { kind: "connect", target, proxyAuthorization: request.headers["proxy-authorization"], statusCode: 0 };
    exchanges.push(exchange);

    const separator = target.lastIndexOf(":");
    const hostname = target.slice(0, separator).replace(/^\[|\]$/g, "");
    const port = Number(target.slice(separator + 1));
    if (separator <= 0 || !Number.isInteger(port) || !isLoopback(hostname)) {
      exchange.statusCode = 403;
      client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }

    const upstream = net.connect(port, hostname, () => {
      exchange.statusCode = 200;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) {
        upstream.write(head);
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));

    // Request lines are read per chunk, which is enough for the small requests of these tests.
    client.on("data", (chunk: Buffer) => {
      for (const match of chunk.toString("latin1").matchAll(REQUEST_LINE)) {
        tunnelledRequests.push(`${match[1]} ${match[2]}`);
      }
    });
    upstream.on("error", () => {
      if (exchange.statusCode === 0) {
        exchange.statusCode = 502;
        client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      } else {
        client.destroy();
      }
    });
    client.on("error", () => upstream.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    exchanges,
    tunnelledRequests,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) {
          socket.destroy();
        }
      });
    },
  };
}
