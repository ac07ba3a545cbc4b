import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@reusable-chat/core';
import {
  channelKind,
  isPublishableChannelName,
  isValidChannelName,
  isValidSocketId,
  isValidUserId,
  MAX_EVENT_NAME_LENGTH,
  verifyApiRequest,
  type AppCredentials,
} from '@reusable-chat/protocol';
import type { RealtimeServer } from './realtime-server.ts';

/** rest-api.md:48-60, 96 (pusher-protocol.md §1.5; checklist W-25). */
export const HTTP_API_LIMITS = {
  maxDataBytes: 10_240,
  maxChannelsPerEvent: 100,
  maxBatchSize: 10,
  /** Ten events of 10 KB each plus their envelope. */
  bodyLimitBytes: 256 * 1024,
} as const;

interface EventInput {
  name: unknown;
  data: unknown;
  channels?: unknown;
  channel?: unknown;
  socket_id?: unknown;
  info?: unknown;
}

/**
 * The Pusher HTTP API (`/apps/{app_id}/…`), so the `pusher` server SDK and Laravel's broadcaster work
 * unchanged. Every request is signed (rest-api.md §Authentication): timestamp within 600 s, body_md5 of the
 * raw bytes, constant-time compares; any failure is a 401 (W-24). An unknown app id is a 404 (W-25).
 */
export async function registerHttpApiRoutes(app: FastifyInstance, server: RealtimeServer, credentials: AppCredentials & { id: string }): Promise<void> {
  await app.register(async (api) => {
    // The signature covers the raw body, so this scope keeps it as bytes and parses JSON itself.
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: HTTP_API_LIMITS.bodyLimitBytes }, (_request, body, done) => {
      done(null, body);
    });

    api.addHook('preHandler', async (request: FastifyRequest<{ Params: { appId: string } }>) => {
      if (request.params.appId !== credentials.id) throw new AppError('not_found', 'No such app.');
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(request.query as Record<string, unknown>)) {
        // A repeated parameter has no single signed value.
        if (typeof value !== 'string') throw new AppError('unauthenticated', 'Invalid signature.');
        params[key] = value;
      }
      const rawUrl = request.raw.url ?? request.url;
      const path = rawUrl.split('?', 1)[0]!;
      const body = request.body instanceof Buffer ? request.body : undefined;
      const result = verifyApiRequest(credentials, { method: request.method, path, params, rawBody: body });
      if (!result.ok) {
        request.log.info({ reason: result.reason }, 'realtime HTTP API signature rejected');
        throw new AppError('unauthenticated', 'Invalid signature.');
      }
    });

    const tags = ['realtime'];

    api.post<{ Params: { appId: string } }>(
      '/apps/:appId/events',
      { schema: { tags, summary: 'Trigger an event on up to 100 channels (Pusher HTTP API)' } },
      async (request) => {
        const input = readJsonObject(request.body) as unknown as EventInput;
        const event = validateEvent(input);
        await server.publish(event);
        return infoFor(server, event.channels, input.info);
      },
    );

    api.post<{ Params: { appId: string } }>(
      '/apps/:appId/batch_events',
      { schema: { tags, summary: 'Trigger up to 10 events in one call (Pusher HTTP API)' } },
      async (request) => {
        const body = readJsonObject(request.body);
        const batch = body.batch;
        if (!Array.isArray(batch) || batch.length === 0) throw new AppError('malformed_request', 'batch must be a non-empty array.');
        if (batch.length > HTTP_API_LIMITS.maxBatchSize) {
          throw new AppError('malformed_request', `At most ${HTTP_API_LIMITS.maxBatchSize} events per batch.`);
        }
        const events = batch.map((item: unknown) => {
          if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new AppError('malformed_request', 'Each batch item must be an object.');
          return { input: item as EventInput, event: validateEvent(item as EventInput) };
        });
        for (const { event } of events) await server.publish(event);
        const withInfo = events.some(({ input }) => input.info !== undefined);
        if (!withInfo) return {};
        return {
          batch: await Promise.all(
            events.map(async ({ input, event }) => {
              const info = await infoFor(server, event.channels, input.info);
              return info.channels?.[event.channels[0]!] ?? {};
            }),
          ),
        };
      },
    );

    api.get<{ Params: { appId: string }; Querystring: Record<string, string> }>(
      '/apps/:appId/channels',
      { schema: { tags, summary: 'List occupied channels (Pusher HTTP API)' } },
      async (request) => {
        const prefix = request.query.filter_by_prefix ?? '';
        const attributes = parseInfo(request.query.info);
        if (attributes.has('user_count') && !prefix.startsWith('presence-')) {
          throw new AppError('malformed_request', 'user_count is only available with filter_by_prefix=presence-.');
        }
        const channels: Record<string, { user_count?: number }> = {};
        for (const [name, counts] of await server.listChannels(prefix)) {
          if (counts.subscriptionCount <= 0) continue;
          channels[name] = attributes.has('user_count') ? { user_count: counts.userCount } : {};
        }
        return { channels };
      },
    );

    api.get<{ Params: { appId: string; channelName: string }; Querystring: Record<string, string> }>(
      '/apps/:appId/channels/:channelName',
      { schema: { tags, summary: 'Channel state (Pusher HTTP API)' } },
      async (request) => {
        const channel = request.params.channelName;
        if (!isValidChannelName(channel)) throw new AppError('malformed_request', 'Invalid channel name.');
        const attributes = parseInfo(request.query.info);
        if (attributes.has('user_count') && channelKind(channel) !== 'presence') {
          throw new AppError('malformed_request', 'user_count is only available for presence channels.');
        }
        const counts = await server.channelCounts(channel);
        return {
          occupied: counts.subscriptionCount > 0,
          ...(attributes.has('subscription_count') ? { subscription_count: counts.subscriptionCount } : {}),
          ...(attributes.has('user_count') ? { user_count: counts.userCount } : {}),
        };
      },
    );

    api.get<{ Params: { appId: string; channelName: string } }>(
      '/apps/:appId/channels/:channelName/users',
      { schema: { tags, summary: 'Users on a presence channel (Pusher HTTP API)' } },
      async (request) => {
        const channel = request.params.channelName;
        if (!isValidChannelName(channel) || channelKind(channel) !== 'presence') {
          throw new AppError('malformed_request', 'Only presence channels have users.');
        }
        const members = await server.members(channel);
        return { users: [...members.keys()].map((id) => ({ id })) };
      },
    );

    api.post<{ Params: { appId: string; userId: string } }>(
      '/apps/:appId/users/:userId/terminate_connections',
      { schema: { tags, summary: "Close every signed-in connection of a user (Pusher HTTP API)" } },
      async (request) => {
        if (!isValidUserId(request.params.userId)) throw new AppError('malformed_request', 'Invalid user id.');
        await server.terminateUser(request.params.userId);
        return {};
      },
    );
  });
}

function readJsonObject(body: unknown): Record<string, unknown> {
  if (!(body instanceof Buffer) || body.length === 0) throw new AppError('malformed_request', 'A JSON body is required.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError('malformed_request', 'The request body is not valid JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AppError('malformed_request', 'The body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

function validateEvent(input: EventInput): { channels: string[]; event: string; data: string; excludeSocketId?: string } {
  const { name, data } = input;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_EVENT_NAME_LENGTH) {
    throw new AppError('malformed_request', `name must be a string of 1 to ${MAX_EVENT_NAME_LENGTH} characters.`);
  }
  if (typeof data !== 'string') throw new AppError('malformed_request', 'data must be a string.');
  if (Buffer.byteLength(data, 'utf8') > HTTP_API_LIMITS.maxDataBytes) {
    throw new AppError('payload_too_large', `Event data is limited to ${HTTP_API_LIMITS.maxDataBytes} bytes.`);
  }
  const channels = input.channels !== undefined ? input.channels : input.channel !== undefined ? [input.channel] : undefined;
  if (!Array.isArray(channels) || channels.length === 0) throw new AppError('malformed_request', 'channels must be a non-empty array.');
  if (channels.length > HTTP_API_LIMITS.maxChannelsPerEvent) {
    throw new AppError('malformed_request', `At most ${HTTP_API_LIMITS.maxChannelsPerEvent} channels per event.`);
  }
  for (const channel of channels) {
    if (!isPublishableChannelName(channel)) throw new AppError('malformed_request', 'Invalid channel name.', { channel: String(channel).slice(0, 200) });
  }
  if (input.socket_id !== undefined && !isValidSocketId(input.socket_id)) throw new AppError('malformed_request', 'Invalid socket_id.');
  parseInfo(input.info); // an invalid info attribute fails before anything is published
  return {
    channels: [...new Set(channels as string[])],
    event: name,
    data,
    ...(input.socket_id !== undefined ? { excludeSocketId: input.socket_id as string } : {}),
  };
}

function parseInfo(info: unknown): Set<string> {
  if (typeof info !== 'string' || info.length === 0) return new Set();
  const attributes = new Set(info.split(',').map((s) => s.trim()));
  for (const a of attributes) {
    if (a !== 'user_count' && a !== 'subscription_count') throw new AppError('malformed_request', `Unknown info attribute ${a.slice(0, 50)}.`);
  }
  return attributes;
}

async function infoFor(server: RealtimeServer, channels: string[], info: unknown): Promise<{ channels?: Record<string, Record<string, number>> }> {
  const attributes = parseInfo(info);
  if (attributes.size === 0) return {};
  const out: Record<string, Record<string, number>> = {};
  for (const channel of channels) {
    const counts = await server.channelCounts(channel);
    out[channel] = {
      ...(attributes.has('subscription_count') ? { subscription_count: counts.subscriptionCount } : {}),
      ...(attributes.has('user_count') && channelKind(channel) === 'presence' ? { user_count: counts.userCount } : {}),
    };
  }
  return { channels: out };
}
