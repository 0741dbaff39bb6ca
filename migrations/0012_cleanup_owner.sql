ALTER TABLE "cleanup_queue" ADD COLUMN "owner" text;--> statement-breakpoint
CREATE INDEX "cleanup_queue_owner_idx" ON "cleanup_queue" USING btree ("owner") WHERE "cleanup_queue"."owner" is not null;