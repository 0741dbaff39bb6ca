CREATE TABLE "backend_states" (
	"backend_name" text PRIMARY KEY NOT NULL,
	"mode" text NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "backend_states_mode_check" CHECK ("backend_states"."mode" in ('active', 'draining', 'drained', 'removed'))
);
