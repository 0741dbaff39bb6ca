CREATE TABLE "job_leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text,
	"expires_at" timestamp with time zone,
	"last_run_at" timestamp with time zone,
	"last_settings" text,
	"cursor" jsonb,
	"more" boolean DEFAULT false NOT NULL,
	"counters" jsonb DEFAULT '{}'::jsonb NOT NULL
);
