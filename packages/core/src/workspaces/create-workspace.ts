import { schema, type Executor } from '@reusable-chat/db';
import { randomToken } from '../shared/crypto.ts';
import { defaultWidgetConfigs } from './default-widget-configs.ts';

export type WorkspaceRow = typeof schema.workspaces.$inferSelect;

export async function createWorkspace(params: {
  db: Executor;
  name: string;
  kind?: 'single_app' | 'marketplace';
  isDemo?: boolean;
}): Promise<WorkspaceRow> {
  const kind = params.kind ?? 'single_app';
  return params.db.transaction(async (tx) => {
    const [workspace] = await tx
      .insert(schema.workspaces)
      .values({ name: params.name, kind, isDemo: params.isDemo ?? false, identitySecret: randomToken(32) })
      .returning();
    if (!workspace) throw new Error('workspace insert returned no row');
    await tx
      .insert(schema.widgetConfigs)
      .values(defaultWidgetConfigs(kind).map((c) => ({ ...c, workspaceId: workspace.id })));
    return workspace;
  });
}
