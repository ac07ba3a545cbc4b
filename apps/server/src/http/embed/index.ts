import type { FastifyInstance } from 'fastify';
import { registerInitRoute } from './init.route.ts';
import { registerSessionRoute } from './session.route.ts';

/**
 * Embed API (SPEC §4): called by pages with a public key `pk_…`; the key's allowed origins decide.
 * CORS for this prefix is the root hook in plugins/widget-cors.ts.
 */
export async function registerEmbedRoutes(app: FastifyInstance): Promise<void> {
  registerInitRoute(app);
  registerSessionRoute(app);
}
