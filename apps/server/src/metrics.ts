import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so tests that build several apps in one process do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'rc_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    connections: new Gauge({ name: 'rc_realtime_connections', help: 'Open WebSocket connections on this node', registers: [registry] }),
    channels: new Gauge({ name: 'rc_realtime_channels', help: 'Channels with at least one local subscriber', registers: [registry] }),
    deliveries: new Counter({ name: 'rc_realtime_deliveries_total', help: 'Frames written to sockets', registers: [registry] }),
    messages: new Counter({ name: 'rc_messages_total', help: 'Messages persisted', labelNames: ['source'] as const, registers: [registry] }),
    queueDepth: new Gauge({ name: 'rc_queue_depth', help: 'Jobs waiting in the queue', registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
