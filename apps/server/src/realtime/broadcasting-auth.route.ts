import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '@reusable-chat/core';
import { SOCKET_ID_PATTERN, type AppCredentials } from '@reusable-chat/protocol';
import { authenticateWidgetRequest } from '../http/plugins/widget-auth.ts';
import { authorizeChatUserChannel, signChannelAuthorization, signUserAuthentication } from './authorize-channel.ts';

// pusher-js posts form-encoded fields and may add its own `params`; unknown fields are dropped, not refused.
const socketId = z.string().max(64).regex(SOCKET_ID_PATTERN, 'must look like 123.456');
const channelAuthBody = z.object({ socket_id: socketId, channel_name: z.string().min(1).max(200) });
const userAuthBody = z.object({ socket_id: socketId });

const channelAuthResponse = z.object({ auth: z.string(), channel_data: z.string().optional() });
const userAuthResponse = z.object({ auth: z.string(), user_data: z.string() });

/**
 * Pusher authorizers for widget sessions (SPEC §4 `POST /api/widget/broadcasting/auth`): Bearer session, then
 * the product rules of authorize-channel.ts. A refusal is a 403 without a signature (T-09).
 * `user-auth` is pusher-js `userAuthentication`: it binds the socket to the chat user, so revoking the session or
 * banning the user can terminate that socket (W-08).
 */
export function registerBroadcastingAuthRoutes(app: FastifyInstance, credentials: AppCredentials): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/api/widget/broadcasting/auth', {
    schema: {
      tags: ['widget', 'realtime'],
      summary: 'Authorize a Pusher channel subscription for this widget session',
      security: [{ widgetSession: [] }],
      body: channelAuthBody,
      response: { 200: channelAuthResponse },
    },
    handler: async (request) => {
      const session = await authenticateWidgetRequest(request);
      const decision = await authorizeChatUserChannel({
        db: app.deps.database.db,
        workspaceId: session.workspace.id,
        user: { id: session.user.id, name: session.user.name, avatarUrl: session.user.avatarUrl },
        channelName: request.body.channel_name,
      });
      if (!decision.allowed) throw new AppError('forbidden', 'This session may not join this channel.');
      return signChannelAuthorization(credentials, request.body.socket_id, request.body.channel_name, decision);
    },
  });

  r.post('/api/widget/broadcasting/user-auth', {
    schema: {
      tags: ['widget', 'realtime'],
      summary: 'Sign in a Pusher connection as this widget session’s chat user (pusher:signin)',
      security: [{ widgetSession: [] }],
      body: userAuthBody,
      response: { 200: userAuthResponse },
    },
    handler: async (request) => {
      const session = await authenticateWidgetRequest(request);
      // Sign-in user id = chat user id, the id terminateUser and the revocation listeners use.
      return signUserAuthentication(credentials, request.body.socket_id, {
        id: session.user.id,
        user_info: { name: session.user.name },
        workspace_id: session.workspace.id,
      });
    },
  });
}
