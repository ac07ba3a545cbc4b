ALTER TABLE "messages" ADD COLUMN "has_attachments" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "has_reactions" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Existing messages with attachments or reactions get their flags (new columns start false).
UPDATE "messages" SET "has_attachments" = true WHERE EXISTS (SELECT 1 FROM "attachments" a WHERE a."message_id" = "messages"."id");--> statement-breakpoint
UPDATE "messages" SET "has_reactions" = true WHERE EXISTS (SELECT 1 FROM "reactions" r WHERE r."message_id" = "messages"."id");--> statement-breakpoint
-- The flags are kept by the database itself, so no write path (API, worker, import, a hand-written INSERT)
-- can leave a message with an attachment or a reaction flagged without one. They are only ever set: the
-- update skips messages already flagged, so only a message's first attachment or reaction writes its row.
CREATE FUNCTION "messages_flag_attachment"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "messages" SET "has_attachments" = true WHERE "id" = NEW."message_id" AND NOT "has_attachments";
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "attachments_flag_message" AFTER INSERT OR UPDATE OF "message_id" ON "attachments"
  FOR EACH ROW WHEN (NEW."message_id" IS NOT NULL) EXECUTE FUNCTION "messages_flag_attachment"();--> statement-breakpoint
CREATE FUNCTION "messages_flag_reaction"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "messages" SET "has_reactions" = true WHERE "id" = NEW."message_id" AND NOT "has_reactions";
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "reactions_flag_message" AFTER INSERT ON "reactions"
  FOR EACH ROW EXECUTE FUNCTION "messages_flag_reaction"();
