CREATE TABLE "cache_purges" (
	"generation" bigserial PRIMARY KEY NOT NULL,
	"bucket" text NOT NULL,
	"prefix" text NOT NULL,
	"purged_at" timestamp with time zone DEFAULT now() NOT NULL
);
