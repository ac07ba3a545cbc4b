/**
 * Checklist W-22, the reconnect storm, scaled to a test: real pusher-js clients reach two nodes sharing Redis
 * through a balancer; node 1 is taken out of rotation and stopped (a rolling restart), every client lands on node
 * 2 with pusher-js's own reconnect, resubscribes, and catches up from the history by seq with no gap. The
 * 19 000-client version on one node is `npm run bench -- realtime` (bench/realtime/scale.ts).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '@reusable-chat/testing';
import { eventually, pusherClient, startTopology, uuid, type PusherJsClient, type Topology } from '../conformance/support.ts';

const CLIENTS = 150;

/** A TCP balancer: new connections go to the first backend still in rotation (what a load balancer does). */
async function startBalancer(backends: number[]): Promise<{ port: number; drain(port: number): void; close(): Promise<void> }> {
  const inRotation = [...backends];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const target = inRotation[0];
    if (target === undefined) return client.destroy();
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    drain(port) {
      inRotation.splice(inRotation.indexOf(port), 1);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface StormClient {
  readonly pusher: PusherJsClient;
  lastSeq: number;
  gaps: number;
  subscriptions: number;
}

const clusters = TEST_REDIS_URL ? (['two nodes over Redis'] as const) : [];

describe.each(clusters)('W-22 reconnect storm: %s', (kind) => {
  let topo: Topology;
  let balancer: Awaited<ReturnType<typeof startBalancer>>;
  const clients: StormClient[] = [];

  beforeAll(async () => {
    // The storm path does not touch the database: one backend is enough.
    topo = await startTopology(kind, 'pglite', { REALTIME_MAX_CONNECTIONS_PER_IP: '10000' });
    balancer = await startBalancer(topo.nodes.map((n) => n.port));
  });
  afterAll(async () => {
    for (const c of clients) c.pusher.disconnect();
    await balancer?.close();
    await topo?.close();
  });

  it(`W-22: ${CLIENTS} pusher-js clients move to the remaining node when node 1 leaves, resubscribe and catch up by seq with no gap`, async () => {
    const [first, second] = topo.nodes as [Topology['nodes'][0], Topology['nodes'][0]];
    const channel = `private-conversation.${uuid()}`;
    /** The source of truth, as the messages table is: every seq ever published. */
    const history: number[] = [];
    const catchUp = (c: StormClient) => {
      // GET …/messages?since_seq=: what was published after the client's last seq.
      for (const seq of history) if (seq === c.lastSeq + 1) c.lastSeq = seq;
    };
    for (let i = 0; i < CLIENTS; i++) {
      const pusher = pusherClient({ port: balancer.port, sdk: second.sdk });
      const client: StormClient = { pusher, lastSeq: -1, gaps: 0, subscriptions: 0 };
      const subscription = pusher.subscribe(channel);
      subscription.bind('pusher:subscription_succeeded', () => {
        client.subscriptions += 1;
        catchUp(client);
      });
      subscription.bind('seq', ({ seq }: { seq: number }) => {
        if (seq === client.lastSeq + 1) client.lastSeq = seq;
        else if (seq > client.lastSeq + 1) {
          client.gaps += 1;
          catchUp(client);
        }
      });
      clients.push(client);
    }
    await eventually(() => clients.every((c) => c.subscriptions === 1), 20_000, 'all subscribed');
    expect(first.app.realtimeServer.connectionCount).toBe(CLIENTS);

    // A stream of seqs through the node that stays, throughout the storm.
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const seq = history.length;
        history.push(seq);
        await second.sdk.trigger(channel, 'seq', { seq }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await eventually(() => clients.every((c) => c.lastSeq >= 3), 10_000, 'stream flowing');

    // Rolling restart: out of the balancer's rotation first, then stopped (4200 to every socket).
    balancer.drain(first.port);
    const stoppedAt = Date.now();
    await first.close();
    await eventually(() => clients.every((c) => c.subscriptions === 2 && c.pusher.connection.state === 'connected'), 20_000, 'all back on node 2');
    const recoveredMs = Date.now() - stoppedAt;
    expect(second.app.realtimeServer.connectionCount).toBe(CLIENTS);
    // pusher-js reconnects at once after 4200, so the whole fleet is back well before its 15 s retry timeout.
    expect(recoveredMs).toBeLessThan(10_000);

    publishing = false;
    await publisher;
    const finalSeq = history.length;
    history.push(finalSeq);
    await second.sdk.trigger(channel, 'seq', { seq: finalSeq });
    await eventually(() => clients.every((c) => c.lastSeq === finalSeq), 10_000, 'every client on the last seq');
    // Each client saw every seq exactly in order, from the socket or from the history, none skipped.
    expect(clients.every((c) => c.lastSeq === history.length - 1)).toBe(true);
  });
});
