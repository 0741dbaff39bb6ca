ALTER TABLE "multipart_parts" ADD COLUMN "backend_etag" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "multipart_parts" ADD COLUMN "stored_size" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "multipart_parts" ADD COLUMN "checksum" jsonb;