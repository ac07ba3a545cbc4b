/**
 * A minimal HTTP/1.1 keep-alive client over net.Socket for load generation (the way wrk and autocannon do
 * it): the caller hands over the request's bytes as one latin1 string, built from a template, and gets
 * back the status. node:http costs a request object, a header object, a response stream and its chunks
 * per request — on a 2-core machine that CPU is taken from the server being measured.
 *
 * The response parser reads only what delimits a response: the status line, the header block up to
 * CRLFCRLF, and a Content-Length body. Anything else (chunked encoding, no length, a 1xx, bytes after the
 * response, a malformed status line) is not guessed at: the request rejects with RawHttpProtocolError,
 * which a load loop must let through rather than count as an ordinary failure, so a change on the server
 * never turns into a silently wrong number. One request is in flight per connection (no pipelining).
 */
import net from 'node:net';

export class RawHttpProtocolError extends Error {
  override readonly name = 'RawHttpProtocolError';
}

/** Told of an answer whose status was not the expected one, with its body (for a diagnostic). */
export type UnexpectedAnswer = (status: number, body: Buffer) => void;

interface Pending {
  readonly text: string;
  readonly resolve: (status: number) => void;
  readonly reject: (err: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;

class RawHttpConnection {
  private socket: net.Socket | null = null;
  private pending: Pending | null = null;
  /** Bytes of the current response received so far, when it spans more than one chunk. */
  private partial: Buffer | null = null;
  /** Offset of the body in the current response; -1 while the header block is incomplete. */
  private bodyStart = -1;
  private bodyLength = 0;
  private status = 0;
  private closeAfter = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly expectStatus: number,
    private readonly onUnexpected: UnexpectedAnswer,
    private readonly onIdle: (connection: RawHttpConnection) => void,
    private readonly onUnsolicited: (err: RawHttpProtocolError) => void,
  ) {}

  get busy(): boolean {
    return this.pending !== null;
  }

  send(p: Pending): void {
    this.pending = p;
    // A socket the server closed (keep-alive timeout, `connection: close`) is replaced on the next request.
    const socket = this.socket ?? this.connect();
    socket.write(p.text, 'latin1');
  }

  destroy(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows and fails the request in flight
    socket.on('close', () => {
      // A socket this side already let go of (protocol error, `connection: close`) has nothing in flight.
      if (this.socket !== socket) return;
      this.socket = null;
      this.fail(new Error('connection closed before the response was complete'));
    });
    this.socket = socket;
    return socket;
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = null;
    this.partial = null;
    this.bodyStart = -1;
    if (p) {
      p.reject(err);
      this.onIdle(this);
    }
  }

  private protocolError(message: string): void {
    const err = new RawHttpProtocolError(`raw HTTP client: ${message}`);
    this.destroy();
    if (this.pending) this.fail(err);
    else this.onUnsolicited(err);
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) return this.protocolError('bytes received with no request in flight');
    const data = this.partial === null ? chunk : Buffer.concat([this.partial, chunk]);
    if (this.bodyStart < 0) {
      const end = data.indexOf(HEADER_END);
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) return this.protocolError('header block too large');
        this.partial = data;
        return;
      }
      const problem = this.parseHead(data.toString('latin1', 0, end));
      if (problem) return this.protocolError(problem);
      this.bodyStart = end + HEADER_END.length;
    }
    const total = this.bodyStart + this.bodyLength;
    if (data.length < total) {
      this.partial = data;
      return;
    }
    if (data.length > total) return this.protocolError('bytes after the response (no request was pipelined)');
    const p = this.pending;
    const status = this.status;
    if (status !== this.expectStatus) this.onUnexpected(status, data.subarray(this.bodyStart));
    this.pending = null;
    this.partial = null;
    this.bodyStart = -1;
    if (this.closeAfter) this.destroy();
    p.resolve(status);
    this.onIdle(this);
  }

  /** Reads status, Content-Length and Connection; returns what is wrong with the head, if anything. */
  private parseHead(head: string): string | null {
    if (!head.startsWith('HTTP/1.1 ') || head.charCodeAt(12) !== 0x20) return `unexpected status line: ${JSON.stringify(head.slice(0, 40))}`;
    const status = Number(head.slice(9, 12));
    if (!Number.isInteger(status) || status < 200 || status > 599) return `unexpected status: ${head.slice(9, 12)}`;
    const lower = head.toLowerCase();
    if (lower.includes('\r\ntransfer-encoding:')) return 'transfer-encoding is not supported (a Content-Length body is expected)';
    const at = lower.indexOf('\r\ncontent-length:');
    if (at < 0) return `no content-length (status ${status})`;
    if (lower.indexOf('\r\ncontent-length:', at + 1) >= 0) return 'more than one content-length';
    const lineEnd = lower.indexOf('\r\n', at + 2);
    const value = lower.slice(at + '\r\ncontent-length:'.length, lineEnd < 0 ? undefined : lineEnd).trim();
    if (!/^\d{1,7}$/.test(value) || Number(value) > MAX_BODY_BYTES) return `bad content-length: ${JSON.stringify(value)}`;
    this.status = status;
    this.bodyLength = Number(value);
    this.closeAfter = /\r\nconnection:[ \t]*close/.test(lower);
    return null;
  }
}

/**
 * Keep-alive connections to one server, opened on demand up to `maxConnections`; beyond that, requests wait
 * in order for the next free connection (as an http.Agent with maxSockets does).
 */
export class RawHttpPool {
  private readonly idle: RawHttpConnection[] = [];
  private readonly connections: RawHttpConnection[] = [];
  private readonly waiting: Pending[] = [];
  private waitingHead = 0;
  /** A protocol error seen with no request to reject: every later request rejects with it. */
  private unsolicited: RawHttpProtocolError | null = null;

  /** Answers with another status than `expectStatus` are shown to `onUnexpected` with their body. */
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxConnections: number,
    private readonly expectStatus: number,
    private readonly onUnexpected: UnexpectedAnswer,
  ) {}

  /**
   * Sends `text` (a whole request: request line, headers, blank line and an ASCII body, as latin1) and
   * resolves with the answer's status; rejects when the connection fails before the answer is complete.
   */
  request(text: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.unsolicited) return reject(this.unsolicited);
      const p: Pending = { text, resolve, reject };
      const connection = this.idle.pop() ?? this.open();
      if (connection) connection.send(p);
      else this.waiting.push(p);
    });
  }

  close(): void {
    for (const c of this.connections) c.destroy();
  }

  private open(): RawHttpConnection | null {
    if (this.connections.length >= this.maxConnections) return null;
    const connection = new RawHttpConnection(
      this.host,
      this.port,
      this.expectStatus,
      this.onUnexpected,
      (c) => this.release(c),
      (err) => (this.unsolicited ??= err),
    );
    this.connections.push(connection);
    return connection;
  }

  private release(connection: RawHttpConnection): void {
    if (connection.busy) return;
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waitingHead += 1;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      connection.send(next);
    } else this.idle.push(connection);
  }
}
