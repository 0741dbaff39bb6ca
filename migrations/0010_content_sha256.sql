ALTER TABLE "multipart_parts" ADD COLUMN "sha256" text;--> statement-breakpoint
ALTER TABLE "object_parts" ADD COLUMN "sha256" text;--> statement-breakpoint
ALTER TABLE "objects" ADD COLUMN "content_sha256" text;