import type { FastifyInstance } from 'fastify';
import { registerDemoMarketplaceRoutes } from './marketplace.route.ts';
import { registerDemoPages } from './demo-pages.route.ts';
import { registerDemoRoomRoutes } from './rooms.route.ts';

/** The /api/demo routes the demo pages call (registered with prefix /api/demo). */
export async function registerDemoApiRoutes(app: FastifyInstance): Promise<void> {
  registerDemoRoomRoutes(app);
  registerDemoMarketplaceRoutes(app);
}

export { registerDemoPages };
