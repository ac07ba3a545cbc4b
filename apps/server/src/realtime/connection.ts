import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { channelKind } from '@reusable-chat/protocol';
import { encodeTextFrame } from './ws-frame.ts';

/**
 * One Pusher connection. Writes bypass `ws`'s per-message framing: frames are pre-encoded (ws-frame.ts) and
 * written to the raw TCP socket, corked for the rest of the tick so a burst to one socket goes out in one
 * writev. `ws` still reads, answers protocol pings and performs the close handshake; with permessage-deflate
 * off its sender never queues, so both writers keep their order on the one socket.
 */
export interface PresenceMember {
  readonly userId: string;
  readonly userInfo: unknown;
}

export class RealtimeConnection {
  /** Channels joined through pusher:subscribe. */
  readonly channels = new Set<string>();
  /**
   * Presence channel → the member this socket joined it as (user_info kept to restore the shared state after a
   * Redis loss). Created on the first presence join: most sockets never join one, and an empty Map's hash table
   * costs more than the rest of the idle socket's own state (memory per idle connection, issue 3).
   */
  presence: Map<string, PresenceMember> | null = null;
  /** Set by pusher:signin. */
  userId: string | undefined;
  /** The workspace of the signed user_data, when it names one (quota W-21). */
  workspaceId: string | undefined;
  /** The sign-in took a W-21 slot in the channel state store (false when the store was unreachable then). */
  isSlotCounted = false;
  lastActivityMs: number;
  pingSentAtMs = 0;
  readonly connectedAtMs: number;
  clientEventWindowStartMs = 0;
  clientEventsInWindow = 0;
  rejectedInWindow = 0;
  abusiveWindows = 0;
  isClosed = false;
  isCorked = false;
  /**
   * Messages of one socket are handled in order, even when a step awaits the cluster state; null when idle (a
   * resolved promise per idle socket is memory for nothing).
   */
  queue: Promise<void> | null = null;

  constructor(
    readonly socketId: string,
    readonly ws: WebSocket,
    readonly raw: Duplex,
    private readonly onCork: (connection: RealtimeConnection) => void,
    nowMs: number,
    /** The client address the per-IP quota counts (W-21). */
    readonly ip: string,
  ) {
    this.lastActivityMs = nowMs;
    this.connectedAtMs = nowMs;
  }

  /** The user id this socket joined a presence channel as. */
  presenceUserOf(channel: string): string | undefined {
    return this.presence?.get(channel)?.userId;
  }

  /** "Authorized connections" (pusher-protocol.md §1.4): signed in, or joined a private/presence channel. */
  get isAuthorized(): boolean {
    if (this.userId !== undefined || (this.presence !== null && this.presence.size > 0)) return true;
    for (const channel of this.channels) if (channelKind(channel) !== 'public') return true;
    return false;
  }

  /** Bytes waiting in user space for this socket: what a slow consumer piles up (checklist W-18). */
  get bufferedBytes(): number {
    return this.raw.writableLength;
  }

  writeFrame(frame: Buffer): void {
    if (this.isClosed) return;
    if (!this.isCorked) {
      this.isCorked = true;
      this.raw.cork();
      this.onCork(this);
    }
    this.raw.write(frame);
  }

  sendText(text: string): void {
    this.writeFrame(encodeTextFrame(text));
  }

  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.raw.uncork();
  }

  close(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.uncork();
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.isClosed = true;
    this.ws.terminate();
  }
}
