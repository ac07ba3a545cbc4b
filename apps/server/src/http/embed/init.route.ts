import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { initEmbed, resolvePublicKey } from '@reusable-chat/core';
import { appOrigin } from '../plugins/widget-auth.ts';
import { initBody } from './embed.schema.ts';

export function registerInitRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/init', {
    schema: {
      tags: ['embed'],
      summary: 'Theme and widget configuration for an allowed origin',
      body: initBody,
      response: { 200: z.record(z.string(), z.unknown()) },
    },
    handler: async (request) => {
      const { publicKey, workspace } = await resolveKeyForRequest(app, request.body.public_key, request);
      return initEmbed({
        db: app.deps.database.db,
        publicKey,
        workspace,
        ...(request.body.widget ? { widgetSlug: request.body.widget } : {}),
      });
    },
  });
}

/** Public key + Origin (A-20, C-05); records the CORS decision for the response. */
export async function resolveKeyForRequest(
  app: FastifyInstance,
  key: string,
  request: { headers: { origin?: string | undefined }; corsOriginAllowed: boolean | null },
) {
  try {
    const resolved = await resolvePublicKey({ db: app.deps.database.db, key, origin: request.headers.origin, appOrigin: appOrigin(app) });
    request.corsOriginAllowed = true;
    return resolved;
  } catch (err) {
    // No CORS grant on a refusal: the page cannot read why (C-05).
    request.corsOriginAllowed = false;
    throw err;
  }
}
