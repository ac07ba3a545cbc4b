import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createConversation, getConversation, joinDemoRoom, serializeConversation } from '@reusable-chat/core';
import { demoNameSchema, demoSessionSchema, realtimeJsonSchema, roomJsonSchema, roomParamsSchema } from './demo.schema.ts';
import { demoWorkspaceId, limitDemoCalls, realtimeInfo } from './demo-workspace.ts';

/** Rooms per IP per minute: a person creates one or two; a script creating hundreds is stopped. */
const ROOMS_PER_IP_PER_MINUTE = 10;
/** Joins per IP per minute: each join mints a user and a session (V-30); a few tabs and a retry fit. */
const JOINS_PER_IP_PER_MINUTE = 20;
/** Room lookups per IP per minute: enough for link previews and reloads, not for enumerating ids. */
const LOOKUPS_PER_IP_PER_MINUTE = 120;

type RoomJson = z.infer<typeof roomJsonSchema>;

function toRoomJson(json: Record<string, unknown>): RoomJson {
  const participants = Array.isArray(json['participants']) ? json['participants'] : [];
  return {
    id: String(json['id']),
    name: typeof json['name'] === 'string' ? json['name'] : 'Demo room',
    participant_count: participants.length,
    created_at: String(json['created_at']),
  };
}

/** A demo room of the demo workspace, or 404 — never any other conversation (not even the marketplace one). */
async function loadRoom(app: FastifyInstance, workspaceId: string, roomId: string) {
  return getConversation({ db: app.deps.database.db, workspaceId, conversationId: roomId, type: 'demo' });
}

/**
 * The /demo flow (SPEC §8): create a room, join it with a name, chat through the widget API and realtime with
 * the session minted here. Acts on the seeded demo workspace with server-side credentials only.
 */
export function registerDemoRoomRoutes(app: FastifyInstance): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/rooms', {
    schema: {
      tags: ['demo'],
      summary: 'Create a demo room in the demo workspace (rate-limited per IP)',
      body: z.object({ name: demoNameSchema.optional() }).strict().nullish(),
      response: { 201: roomJsonSchema },
    },
    handler: async (request, reply) => {
      await limitDemoCalls(app, request, 'room', ROOMS_PER_IP_PER_MINUTE);
      const workspaceId = await demoWorkspaceId(app);
      const { json } = await createConversation({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId,
        type: 'demo',
        participants: [],
        name: request.body?.name ?? 'Demo room',
      });
      return reply.code(201).send(toRoomJson(json));
    },
  });

  r.get('/rooms/:id', {
    schema: {
      tags: ['demo'],
      summary: 'A demo room by id (what the join screen of a shared link shows)',
      params: roomParamsSchema,
      response: { 200: roomJsonSchema },
    },
    handler: async (request) => {
      await limitDemoCalls(app, request, 'lookup', LOOKUPS_PER_IP_PER_MINUTE);
      const workspaceId = await demoWorkspaceId(app);
      const room = await loadRoom(app, workspaceId, request.params.id);
      return toRoomJson(await serializeConversation(app.deps.database.db, workspaceId, room));
    },
  });

  r.post('/rooms/:id/join', {
    schema: {
      tags: ['demo'],
      summary: 'Join a demo room with a display name: a new demo user, added to the room, with a widget session',
      params: roomParamsSchema,
      body: z.object({ name: demoNameSchema }).strict(),
      response: { 201: z.object({ room: roomJsonSchema, session: demoSessionSchema, realtime: realtimeJsonSchema }) },
    },
    handler: async (request, reply) => {
      await limitDemoCalls(app, request, 'join', JOINS_PER_IP_PER_MINUTE);
      const workspaceId = await demoWorkspaceId(app);
      const room = await loadRoom(app, workspaceId, request.params.id);
      const { user, conversation: json, token, session } = await joinDemoRoom({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId,
        conversationId: room.id,
        name: request.body.name,
      });
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        room: toRoomJson(json),
        session: { token, expires_at: session.expiresAt.toISOString(), user: { id: user.id, name: user.name } },
        realtime: realtimeInfo(app),
      });
    },
  });
}
