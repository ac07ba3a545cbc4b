import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AppDeps } from './deps.ts';
import { errorBody, registerErrorHandling } from './http/plugins/errors.ts';
import { registerJsonBodyParser } from './http/plugins/json-body.ts';
import { registerStaticPages } from './http/plugins/static-pages.ts';
import { registerDemoApiRoutes, registerDemoPages } from './http/demo/index.ts';
import { registerHealthRoutes } from './http/health.route.ts';
import { registerV1Routes } from './http/v1/index.ts';
import { registerEmbedRoutes } from './http/embed/index.ts';
import { registerServeFileRoute } from './http/files/serve-file.route.ts';
import { registerWidgetCors } from './http/plugins/widget-cors.ts';
import { registerWidgetRoutes } from './http/widget/index.ts';
import { registerWidgetAssetRoutes } from './http/widget-assets.route.ts';
import { lazyChildLoggerFactory, loggerOptions } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { registerRealtime } from './realtime/index.ts';
import { installOutboxListener } from './worker/outbox-hook.ts';
import { registerUnsubscribeRoutes } from './http/notifications/unsubscribe.route.ts';

export interface BuildAppOptions {
  /** Override logging (tests pass false or a level). */
  readonly logger?: boolean | string;
}

/** Default JSON body cap (V-02); uploads use multipart with their own streaming limit. */
export const JSON_BODY_LIMIT_BYTES = 1_048_576;
/** While the server closes, keep-alive connections that have become idle are closed this often. */
const CLOSE_REAP_INTERVAL_MS = 100;

/**
 * Builds the HTTP + WebSocket application without listening (ARCHITECTURE.md convention 6).
 * main.ts is the only composition root; tests call this with in-memory drivers.
 */
export async function buildApp(deps: AppDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const level = typeof options.logger === 'string' ? options.logger : deps.config.logLevel;
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(level),
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: JSON_BODY_LIMIT_BYTES,
    trustProxy: deps.config.trustProxy,
    // Fastify answers a __proto__ key with 400 on its own parser; ours refuses it too (V-07).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 200 },
    // A path that is not valid percent-encoded UTF-8 (e.g. a lone surrogate) never reaches the error handler
    // on its own; answer it in the registry format too (V-05).
    frameworkErrors: (_error, _request, reply) => {
      (reply as FastifyReply).code(400).send(errorBody('malformed_request', 'The request URL is not valid.'));
    },
    requestTimeout: 30_000,
    // A slow body (slowloris) is cut off rather than held open (V-02).
    connectionTimeout: 60_000,
  });
  const metrics = createMetrics();
  app.decorate('deps', deps);
  app.decorate('metrics', metrics);
  // Domain events → outbox rows (webhooks), in every process that runs use-cases; the worker relays them.
  const uninstallOutboxListener = installOutboxListener(deps);
  app.addHook('onClose', async () => uninstallOutboxListener());

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  registerJsonBodyParser(app);
  await app.register(fastifyFormbody, { bodyLimit: JSON_BODY_LIMIT_BYTES });
  await app.register(fastifyCookie, { secret: deps.appSecret });
  await app.register(fastifyWebsocket, {
    options: {
      // A frame larger than this closes the socket with 1009 before it is buffered (W-16).
      maxPayload: 64 * 1024,
      perMessageDeflate: false,
      clientTracking: false,
    },
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Reusable Chat API',
        version: '0.1.0',
        description:
          'Consumer API (`/api/v1`, header `X-API-Key`), embed, widget and dashboard APIs. Errors follow `{"error":{"code","message","details"}}`; see docs/errors.md.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          widgetSession: { type: 'http', scheme: 'bearer' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Callback-style hooks where nothing is awaited: Fastify runs them without a promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  // Graceful close: Node's server.close() reaps only the keep-alive connections idle at that moment. One whose
  // request was still running then (begun before Fastify started answering 503) would stay open until its
  // keep-alive timeout (72 s) and hold the close — seen as a one-minute hang when a client's request straddled
  // a shutdown. While closing, answers carry `Connection: close`, and idle connections are reaped until the
  // server has closed.
  let closing = false;
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    reaper = setInterval(() => app.server.closeIdleConnections(), CLOSE_REAP_INTERVAL_MS);
    reaper.unref();
  });
  app.addHook('onClose', async () => clearInterval(reaper));
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'strict-origin-when-cross-origin');
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  // Before any route: the CORS hook and route list must see every /api/widget and /api/embed route (C-05).
  registerWidgetCors(app);
  registerHealthRoutes(app, metrics);
  registerStaticPages(app);
  registerDemoPages(app);
  await registerRealtime(app, metrics);
  await app.register(registerV1Routes, { prefix: '/api/v1' });
  registerUnsubscribeRoutes(app);
  await app.register(registerEmbedRoutes, { prefix: '/api/embed' });
  await app.register(registerWidgetRoutes, { prefix: '/api/widget' });
  await app.register(registerDemoApiRoutes, { prefix: '/api/demo' });
  registerServeFileRoute(app);
  registerWidgetAssetRoutes(app);

  return app;
}
