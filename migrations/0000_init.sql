CREATE TABLE "backend_quotas" (
	"backend_name" text PRIMARY KEY NOT NULL,
	"bytes_used" bigint DEFAULT 0 NOT NULL,
	"bytes_limit" bigint DEFAULT 0 NOT NULL,
	"orphan_bytes" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backend_usage" (
	"backend_name" text NOT NULL,
	"period" text NOT NULL,
	"api_requests" bigint DEFAULT 0 NOT NULL,
	"egress_bytes" bigint DEFAULT 0 NOT NULL,
	"ingress_bytes" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backend_usage_pk" PRIMARY KEY("backend_name","period")
);
--> statement-breakpoint
CREATE TABLE "cleanup_queue" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"backend_name" text NOT NULL,
	"physical_key" text NOT NULL,
	"reason" text NOT NULL,
	"size" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_retry" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "multipart_parts" (
	"upload_id" text NOT NULL,
	"part_number" integer NOT NULL,
	"etag" text NOT NULL,
	"size" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "multipart_parts_pk" PRIMARY KEY("upload_id","part_number")
);
--> statement-breakpoint
CREATE TABLE "multipart_uploads" (
	"upload_id" text PRIMARY KEY NOT NULL,
	"bucket" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"backend_name" text NOT NULL,
	"backend_upload_id" text NOT NULL,
	"physical_key" text NOT NULL,
	"version" text NOT NULL,
	"content_type" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "object_locations" (
	"bucket" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"backend_name" text NOT NULL,
	"physical_key" text NOT NULL,
	"stored_size" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "object_locations_pk" PRIMARY KEY("bucket","key","backend_name")
);
--> statement-breakpoint
CREATE TABLE "objects" (
	"bucket" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"version" text NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"content_type" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "objects_pk" PRIMARY KEY("bucket","key")
);
--> statement-breakpoint
ALTER TABLE "backend_usage" ADD CONSTRAINT "backend_usage_backend_name_backend_quotas_backend_name_fk" FOREIGN KEY ("backend_name") REFERENCES "public"."backend_quotas"("backend_name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cleanup_queue" ADD CONSTRAINT "cleanup_queue_backend_name_backend_quotas_backend_name_fk" FOREIGN KEY ("backend_name") REFERENCES "public"."backend_quotas"("backend_name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "multipart_parts" ADD CONSTRAINT "multipart_parts_upload_id_multipart_uploads_upload_id_fk" FOREIGN KEY ("upload_id") REFERENCES "public"."multipart_uploads"("upload_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "multipart_uploads" ADD CONSTRAINT "multipart_uploads_backend_name_backend_quotas_backend_name_fk" FOREIGN KEY ("backend_name") REFERENCES "public"."backend_quotas"("backend_name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_locations" ADD CONSTRAINT "object_locations_backend_name_backend_quotas_backend_name_fk" FOREIGN KEY ("backend_name") REFERENCES "public"."backend_quotas"("backend_name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "object_locations" ADD CONSTRAINT "object_locations_object_fk" FOREIGN KEY ("bucket","key") REFERENCES "public"."objects"("bucket","key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "cleanup_queue_due_idx" ON "cleanup_queue" USING btree ("next_retry") WHERE "cleanup_queue"."attempts" < 10;--> statement-breakpoint
CREATE INDEX "multipart_uploads_bucket_key_idx" ON "multipart_uploads" USING btree ("bucket","key");--> statement-breakpoint
CREATE INDEX "multipart_uploads_backend_idx" ON "multipart_uploads" USING btree ("backend_name");--> statement-breakpoint
CREATE INDEX "multipart_uploads_created_idx" ON "multipart_uploads" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "object_locations_backend_idx" ON "object_locations" USING btree ("backend_name");