CREATE TABLE "bulk_job_batches" (
	"job_id" text NOT NULL,
	"batch" integer NOT NULL,
	"from" jsonb,
	"through" jsonb NOT NULL,
	"count" integer NOT NULL,
	"done" boolean DEFAULT false NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"skipped" integer DEFAULT 0 NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL,
	"done_at" timestamp with time zone,
	CONSTRAINT "bulk_job_batches_pk" PRIMARY KEY("job_id","batch")
);
--> statement-breakpoint
CREATE TABLE "bulk_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"estimated" bigint DEFAULT 0 NOT NULL,
	"cursor" jsonb,
	"produced" boolean DEFAULT false NOT NULL,
	"batches_sent" integer DEFAULT 0 NOT NULL,
	"batches_done" integer DEFAULT 0 NOT NULL,
	"total" bigint DEFAULT 0 NOT NULL,
	"succeeded" bigint DEFAULT 0 NOT NULL,
	"failed" bigint DEFAULT 0 NOT NULL,
	"skipped" bigint DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "bulk_job_batches" ADD CONSTRAINT "bulk_job_batches_job_id_bulk_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."bulk_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bulk_jobs_one_running_idx" ON "bulk_jobs" USING btree ("kind") WHERE "bulk_jobs"."status" = 'running';--> statement-breakpoint
CREATE INDEX "bulk_jobs_kind_created_idx" ON "bulk_jobs" USING btree ("kind","created_at");