import pino from 'pino';
import { deleteWorkspace, type AuditActor, type WorkspaceDeletionResult } from '@reusable-chat/core';
import { MemoryChannelState } from '@reusable-chat/drivers';
import type { AppDeps } from '../deps.ts';
import { createMetrics } from '../metrics.ts';
import { RealtimeServer } from '../realtime/index.ts';

/**
 * Closes chat users' sockets on every realtime node from a process that serves none (the CLI, a worker): the
 * realtime server's own cluster-wide terminate (the one bans and session revocation use), on a node object that
 * holds no sockets and is never started — `terminateUser` closes local sockets (none here) and publishes the
 * terminate on deps.pubsub, which every running node acts on. Embedded mode has no other node: the DATA_DIR lock
 * means no server runs while the CLI does, so there is no socket to close.
 */
export function clusterUserTerminator(deps: AppDeps): (chatUserIds: string[]) => Promise<void> {
  const { config, realtimeAppSecret, pubsub } = deps;
  const node = new RealtimeServer({
    app: { id: config.realtime.appId, key: config.realtime.appKey, secret: realtimeAppSecret },
    activityTimeoutS: config.realtime.activityTimeoutS,
    maxConnections: 0,
    quotas: { perIp: 0, perUser: 0, perWorkspace: 0 },
    allowedOrigins: config.realtime.allowedOrigins,
    pubsub,
    state: new MemoryChannelState(),
    metrics: createMetrics(),
    log: pino({ level: config.logLevel, name: 'workspace-deletion' }),
  });
  return async (chatUserIds) => {
    for (const id of chatUserIds) await node.terminateUser(id);
  };
}

/**
 * G-05 workspace deletion with this process's drivers: storage from deps.blobStore; sockets closed by the same
 * `session.revoked` event session revocation emits (this process's widget-auth cache forgets the sessions, and a
 * process with the realtime role closes the sockets cluster-wide in its fan-out); a process without that role
 * (the CLI) publishes the terminate on the cluster bus itself.
 */
export async function runWorkspaceDeletion(deps: AppDeps, workspaceId: string, actor: AuditActor): Promise<WorkspaceDeletionResult> {
  const cluster = deps.roles.includes('realtime') ? undefined : clusterUserTerminator(deps);
  return deleteWorkspace({
    db: deps.database.db,
    workspaceId,
    actor,
    blobStore: deps.blobStore,
    terminateUsers: async (chatUserIds) => {
      await deps.events.emit({ type: 'session.revoked', workspaceId, chatUserIds });
      await cluster?.(chatUserIds);
    },
    now: deps.clock.now(),
  });
}
