import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { OutboundHttpClient, OutboundHttpRequest, OutboundHttpResult } from '@reusable-chat/core/ports';

/** Total time for one request, connect to last byte (checklist O-04). */
export const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000;
/** We never use the body (O-05); reading a little keeps the connection polite, more is refused (O-04). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Only globally routable unicast addresses are public. Everything ipaddr.js classifies otherwise is refused:
 * loopback, private, link-local (169.254.169.254 metadata), unspecified (`http://0/`), CGNAT, multicast,
 * reserved, unique-local, and the IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo),
 * because those can reach a private IPv4 host (checklist O-01).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  return parsed.range() === 'unicast';
}

export type OutboundUrlProblem = 'invalid_url' | 'unsupported_scheme' | 'credentials_in_url' | 'private_address';

/**
 * Static check of a target URL, for early feedback when a tenant saves it (422 instead of a silent failure).
 * Not the security boundary: a hostname can resolve anywhere, so the connect-time check below is what holds.
 */
export function checkOutboundUrl(raw: string, options: { allowPrivate: boolean }): OutboundUrlProblem | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'invalid_url';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'unsupported_scheme';
  if (url.username || url.password) return 'credentials_in_url';
  if (options.allowPrivate) return null;
  const host = stripBrackets(url.hostname);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'private_address';
  // WHATWG URL parsing already normalised decimal/octal/hex forms such as http://2130706433/ (O-01).
  if (net.isIP(host) && !isPublicAddress(host)) return 'private_address';
  return null;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

class BlockedAddressError extends Error {
  readonly code = 'ERR_BLOCKED_ADDRESS';
}

/**
 * A `lookup` for net.connect that resolves every address of the name and refuses the connection if any of
 * them is not public. The socket then connects to the address validated here, so a TTL-0 name that flips to
 * 127.0.0.1 between a check and the connect cannot slip through (DNS rebinding, O-03).
 */
export type HostResolver = (hostname: string, family: number) => Promise<dns.LookupAddress[]>;

const systemResolver: HostResolver = (hostname, family) => dns.promises.lookup(hostname, { all: true, family });

function guardedLookup(resolve: HostResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
    resolve(hostname, family).then(
      (addresses) => answer(null, addresses),
      (err: NodeJS.ErrnoException) => answer(err, []),
    );
    const answer = (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]): void => {
      if (err) return callback(err, '', 4);
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (addresses.length === 0 || bad) {
        return callback(new BlockedAddressError(`${hostname} resolves to a non-public address`), '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    };
  };
}

export interface SafeHttpClientOptions {
  /** WEBHOOKS_ALLOW_PRIVATE=true (development): skip the address checks, keep every other limit. */
  readonly allowPrivate: boolean;
  readonly maxResponseBytes?: number;
  readonly defaultTimeoutMs?: number;
  readonly userAgent?: string;
  /** Name resolution; the system resolver by default. Injectable to test rebinding answers. */
  readonly resolver?: HostResolver;
  /**
   * Reuse connections per origin (default true). Safe for the SSRF guard: the address check runs in the
   * socket's `lookup`, i.e. whenever a connection is opened, and a pooled connection stays bound to the address
   * that was checked when it opened; a name that later resolves elsewhere only matters for new connections,
   * which are checked again. `false` opens a fresh connection per request (`connection: close`).
   */
  readonly keepAlive?: boolean;
  /** Open connections per origin (host:port) when keepAlive is on; default 32. */
  readonly maxSocketsPerOrigin?: number;
}

/** Idle pooled connections close after this long: under the 5 s keep-alive default of Node servers, so a
 * reused connection is rarely one the receiver is closing at that moment. */
const IDLE_SOCKET_TIMEOUT_MS = 4_000;

/** SSRF-safe outbound POST over node:http/https (the OutboundHttpClient port). */
export class SafeHttpClient implements OutboundHttpClient {
  private readonly maxResponseBytes: number;
  private readonly defaultTimeoutMs: number;
  private readonly userAgent: string;
  private readonly agents: { http: http.Agent; https: https.Agent } | undefined;

  constructor(private readonly options: SafeHttpClientOptions) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
    this.userAgent = options.userAgent ?? 'ReusableChat-Webhooks/1.0';
    if (options.keepAlive ?? true) {
      const agentOptions = {
        keepAlive: true,
        maxSockets: options.maxSocketsPerOrigin ?? 32,
        maxTotalSockets: 1_024,
        timeout: IDLE_SOCKET_TIMEOUT_MS,
        scheduling: 'lifo' as const,
      };
      this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    }
  }

  /** Closes pooled connections (shutdown). */
  close(): void {
    this.agents?.http.destroy();
    this.agents?.https.destroy();
  }

  post(request: OutboundHttpRequest): Promise<OutboundHttpResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const problem = checkOutboundUrl(request.url, { allowPrivate: this.options.allowPrivate });
    if (problem) {
      return Promise.resolve({
        ok: false,
        failure: problem === 'private_address' ? 'blocked_address' : 'invalid_url',
        message: problem,
        latencyMs: 0,
      });
    }
    const url = new URL(request.url);
    const timeoutMs = request.timeoutMs ?? this.defaultTimeoutMs;
    const body = Buffer.from(request.body, 'utf8');
    const deadline = started + timeoutMs;
    return this.send(url, request.headers, body, deadline, elapsed, false);
  }

  private send(
    url: URL,
    headers: Readonly<Record<string, string>>,
    body: Buffer,
    deadline: number,
    elapsed: () => number,
    retried: boolean,
  ): Promise<OutboundHttpResult> {
    const isHttps = url.protocol === 'https:';
    const transport = isHttps ? https : http;
    // The one retry after a stale pooled connection goes on a connection of its own.
    const agent = this.agents && !retried ? (isHttps ? this.agents.https : this.agents.http) : false;
    const timeoutMs = Math.max(1, deadline - performance.now());

    return new Promise<OutboundHttpResult>((resolve) => {
      let settled = false;
      const finish = (result: OutboundHttpResult | Promise<OutboundHttpResult>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = transport.request(url, {
        method: 'POST',
        agent,
        ...(this.options.allowPrivate ? {} : { lookup: guardedLookup(this.options.resolver ?? systemResolver) }),
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': this.userAgent,
          ...(agent ? {} : { connection: 'close' }),
        },
      });
      const timer = setTimeout(() => {
        req.destroy(new Error('timeout'));
        finish({ ok: false, failure: 'timeout', message: `no complete response within ${timeoutMs} ms`, latencyMs: elapsed() });
      }, timeoutMs);
      timer.unref();

      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof BlockedAddressError || err.code === 'ERR_BLOCKED_ADDRESS') {
          finish({ ok: false, failure: 'blocked_address', message: err.message, latencyMs: elapsed() });
        } else if (req.reusedSocket && !retried && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          // The receiver closed an idle pooled connection just as we reused it: once more on a fresh connection
          // (which runs the address check again). A duplicate is possible only if it had processed the request,
          // and carries the same webhook-id.
          finish(this.send(url, headers, body, deadline, elapsed, true));
        } else {
          finish({ ok: false, failure: 'connection_failed', message: err.code ?? err.message, latencyMs: elapsed() });
        }
      });
      req.on('response', (res) => {
        let received = 0;
        // Redirects are not followed (O-02): a 3xx is reported as that status, which counts as a failure.
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > this.maxResponseBytes) {
            res.destroy();
            req.destroy();
            finish({
              ok: false,
              failure: 'response_too_large',
              message: `response exceeded ${this.maxResponseBytes} bytes`,
              latencyMs: elapsed(),
            });
          }
        });
        res.on('end', () => finish({ ok: true, status: res.statusCode ?? 0, latencyMs: elapsed() }));
        res.on('error', () =>
          finish({ ok: false, failure: 'connection_failed', message: 'response aborted', latencyMs: elapsed() }),
        );
      });
      req.end(body);
    });
  }
}
