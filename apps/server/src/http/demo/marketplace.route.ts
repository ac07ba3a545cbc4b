import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { and, eq, isNull } from 'drizzle-orm';
import { AppError, createConversation, createWidgetSession, getConversation, notFound, randomToken, updateConversation, upsertUser } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { authenticateWidgetRequest } from '../plugins/widget-auth.ts';
import { demoNameSchema, marketplaceJsonSchema, roomParamsSchema, type listingJsonSchema } from './demo.schema.ts';
import { DEMO_SESSION_TTL_S, demoWorkspaceId, limitDemoCalls, realtimeInfo } from './demo-workspace.ts';

/** Marketplace demos per IP per minute: each makes two users, two sessions and a conversation (V-30). */
const MARKETPLACES_PER_IP_PER_MINUTE = 10;
/** Marks the conversations this route made: the booking route acts on nothing else. */
const DEMO_MARKER = 'marketplace';
const DAY_MS = 86_400_000;

type Listing = z.infer<typeof listingJsonSchema>;

/** The listing the two panes talk about; dates are a few weeks ahead so they always read as a future stay. */
function demoListing(now: Date): Listing {
  const checkIn = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + 21 * DAY_MS);
  return {
    title: 'Sunlit loft by the river',
    location: 'Lisbon, Portugal',
    price_per_night: 128,
    currency: 'EUR',
    check_in: checkIn.toISOString().slice(0, 10),
    check_out: new Date(checkIn.getTime() + 4 * DAY_MS).toISOString().slice(0, 10),
    guests: 2,
  };
}

/**
 * /demo/marketplace (SPEC §8): a guest and a host in one `guest-host` conversation, whose policy masks contact
 * details until the conversation's state is `booked`. The host confirms the booking here — in a real
 * marketplace the tenant's backend sets the state through PATCH /api/v1/conversations/{id}; this route is that
 * backend for the demo, using the same core update.
 */
export function registerDemoMarketplaceRoutes(app: FastifyInstance): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/marketplace', {
    schema: {
      tags: ['demo'],
      summary: 'Start a marketplace demo: a guest and a host (each with a widget session) in a guest-host conversation',
      body: z.object({ guest_name: demoNameSchema.optional(), host_name: demoNameSchema.optional() }).strict().nullish(),
      response: { 201: marketplaceJsonSchema },
    },
    handler: async (request, reply) => {
      await limitDemoCalls(app, request, 'marketplace', MARKETPLACES_PER_IP_PER_MINUTE);
      const workspaceId = await demoWorkspaceId(app);
      const db = app.deps.database.db;
      const listing = demoListing(app.deps.clock.now());
      const makeUser = async (name: string, role: 'guest' | 'host') =>
        (
          await upsertUser({
            db,
            events: app.deps.events,
            workspaceId,
            externalId: `demo-${role}:${randomToken(12)}`,
            fields: { name, role },
          })
        ).user;
      const guest = await makeUser(request.body?.guest_name ?? 'Alex (guest)', 'guest');
      const host = await makeUser(request.body?.host_name ?? 'Sam (host)', 'host');
      const { conversation } = await createConversation({
        db,
        events: app.deps.events,
        workspaceId,
        type: 'direct',
        widgetSlug: 'guest-host',
        participants: [
          { user: guest, role: 'guest' },
          { user: host, role: 'host' },
        ],
        subject: listing.title,
        state: 'inquiry',
        metadata: { demo: DEMO_MARKER, listing },
      });
      const session = async (user: typeof guest) => {
        const { token, session: row } = await createWidgetSession({ db, workspaceId, chatUserId: user.id, expiresInS: DEMO_SESSION_TTL_S });
        return { token, expires_at: row.expiresAt.toISOString(), user: { id: user.id, name: user.name } };
      };
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        conversation_id: conversation.id,
        state: conversation.state,
        listing,
        guest: await session(guest),
        host: await session(host),
        realtime: realtimeInfo(app),
      });
    },
  });

  r.post('/marketplace/:id/booking', {
    schema: {
      tags: ['demo'],
      summary: "The host confirms the booking: the conversation's state becomes `booked`, so contact details are no longer masked",
      security: [{ widgetSession: [] }],
      params: roomParamsSchema,
      body: z.object({}).strict().nullish(),
      response: { 200: z.object({ conversation_id: z.string(), state: z.string().nullable() }) },
    },
    handler: async (request) => {
      // The host's own widget session is the credential: only the host of this demo conversation may book it.
      const auth = await authenticateWidgetRequest(request);
      const workspaceId = await demoWorkspaceId(app);
      if (auth.workspace.id !== workspaceId) throw notFound('Conversation');
      const db = app.deps.database.db;
      const conversation = await getConversation({ db, workspaceId, conversationId: request.params.id });
      if (conversation.metadata['demo'] !== DEMO_MARKER) throw notFound('Conversation');
      const [participant] = await db
        .select({ role: schema.participants.role })
        .from(schema.participants)
        .where(
          and(
            eq(schema.participants.workspaceId, workspaceId),
            eq(schema.participants.conversationId, conversation.id),
            eq(schema.participants.chatUserId, auth.user.id),
            isNull(schema.participants.leftAt),
          ),
        )
        .limit(1);
      if (!participant) throw notFound('Conversation');
      if (participant.role !== 'host') throw new AppError('forbidden', 'Only the host can confirm the booking.');
      if (conversation.state === 'booked') return { conversation_id: conversation.id, state: conversation.state };
      const { conversation: updated } = await updateConversation({
        db,
        events: app.deps.events,
        workspaceId,
        conversationId: conversation.id,
        changes: { state: 'booked' },
      });
      return { conversation_id: updated.id, state: updated.state };
    },
  });
}
