ALTER TABLE "multipart_parts" ADD COLUMN "nonce" text;--> statement-breakpoint
ALTER TABLE "multipart_uploads" ADD COLUMN "encryption" jsonb;--> statement-breakpoint
ALTER TABLE "object_locations" ADD COLUMN "encryption" jsonb;--> statement-breakpoint
ALTER TABLE "object_parts" ADD COLUMN "nonce" text;--> statement-breakpoint
CREATE INDEX "object_locations_key_id_idx" ON "object_locations" USING btree (("encryption"->>'keyId'),"bucket","key","backend_name") WHERE "object_locations"."encryption" is not null;