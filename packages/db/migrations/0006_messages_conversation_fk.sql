-- messages: one foreign key on (workspace_id, conversation_id) → conversations (workspace_id, id) replaces the
-- two single-column keys. It also holds what they did not (a message's workspace is its conversation's), and
-- an insert runs one check instead of two: the workspace key share-locked the tenant's one workspace row on
-- every message. The new key is in place before the old ones go, so integrity never lapses. Validating it
-- reads every message once (the migration holds its table locks until then).
CREATE UNIQUE INDEX "conversations_workspace_uq" ON "conversations" USING btree ("workspace_id","id");--> statement-breakpoint
DROP INDEX "conversations_workspace_idx";--> statement-breakpoint
ALTER INDEX "conversations_workspace_uq" RENAME TO "conversations_workspace_idx";--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_conversation_fk" FOREIGN KEY ("workspace_id","conversation_id") REFERENCES "public"."conversations"("workspace_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" DROP CONSTRAINT "messages_workspace_id_workspaces_id_fk";--> statement-breakpoint
ALTER TABLE "messages" DROP CONSTRAINT "messages_conversation_id_conversations_id_fk";
