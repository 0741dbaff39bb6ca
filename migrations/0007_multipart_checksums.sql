ALTER TABLE "multipart_uploads" ADD COLUMN "checksum_algorithm" text;--> statement-breakpoint
ALTER TABLE "multipart_uploads" ADD COLUMN "checksum_type" text;