import type { FastifyInstance } from 'fastify';
import type { ChannelStateStore, RealtimeEvent, RealtimePublisher } from '@reusable-chat/core/ports';
import { MemoryChannelState } from '@reusable-chat/drivers';
import { jsonTextOf } from '@reusable-chat/core';
import type { Metrics } from '../metrics.ts';
import { registerBroadcastingAuthRoutes } from './broadcasting-auth.route.ts';
import { registerDomainEventFanOut } from './fan-out.ts';
import { registerHttpApiRoutes } from './http-api.route.ts';
import { RealtimeServer } from './realtime-server.ts';
import { registerWebSocketRoute } from './websocket.route.ts';

export { authorizeAgentChannel, authorizeChatUserChannel, signChannelAuthorization, signUserAuthentication } from './authorize-channel.ts';
export { RealtimeServer, REALTIME_LIMITS } from './realtime-server.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Pusher protocol server of this node (sockets, channels, cluster bus). */
    realtimeServer: RealtimeServer;
  }
}

/**
 * The realtime layer (SPEC §5): the Pusher WebSocket endpoint, the Pusher HTTP API, the widget's broadcasting
 * auth routes, and the one fan-out point from domain events to channels. Cross-node delivery goes through
 * `deps.pubsub`; channel counts and presence through `deps.channelState` (in-process or Redis).
 */
export async function registerRealtime(app: FastifyInstance, metrics: Metrics): Promise<void> {
  const { config, realtimeAppSecret, pubsub } = app.deps;
  const state: ChannelStateStore = app.deps.channelState ?? new MemoryChannelState();
  const credentials = { id: config.realtime.appId, key: config.realtime.appKey, secret: realtimeAppSecret };
  const server = new RealtimeServer({
    app: credentials,
    activityTimeoutS: config.realtime.activityTimeoutS,
    maxConnections: config.realtime.maxConnections,
    quotas: {
      perIp: config.realtime.maxConnectionsPerIp,
      perUser: config.realtime.maxConnectionsPerUser,
      perWorkspace: config.realtime.maxConnectionsPerWorkspace,
    },
    allowedOrigins: config.realtime.allowedOrigins,
    pubsub,
    state,
    metrics,
    log: app.log.child({ module: 'realtime' }),
  });
  await server.start();

  const publisher: RealtimePublisher = {
    async publish(event: RealtimeEvent) {
      if (!server.hasAudience(event.channels)) return;
      await server.publish({
        channels: event.channels,
        event: event.event,
        data: typeof event.data === 'string' ? event.data : jsonTextOf(event.data),
        ...(event.excludeSocketId ? { excludeSocketId: event.excludeSocketId } : {}),
        ...(event.excludeUserIds?.length ? { excludeUserIds: event.excludeUserIds } : {}),
      });
    },
    async terminateUser(userId: string) {
      await server.terminateUser(userId);
    },
  };
  app.decorate('realtime', publisher);
  app.decorate('realtimeServer', server);

  registerWebSocketRoute(app, server, { trustProxy: config.trustProxy });
  await registerHttpApiRoutes(app, server, credentials);
  registerBroadcastingAuthRoutes(app, credentials);
  const stopFanOut = registerDomainEventFanOut(app.deps.events, publisher, app.log);

  // Sockets are told 4200 before the HTTP server waits for its connections to end (W-23).
  app.addHook('preClose', async () => {
    await server.shutdown();
  });
  app.addHook('onClose', async () => {
    stopFanOut();
    await server.stop();
  });
}
