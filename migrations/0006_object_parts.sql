CREATE TABLE "object_parts" (
	"bucket" text NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"version" text NOT NULL,
	"part_number" integer NOT NULL,
	"first_byte" bigint NOT NULL,
	"size" bigint NOT NULL,
	"etag" text NOT NULL,
	"checksum" jsonb,
	CONSTRAINT "object_parts_pk" PRIMARY KEY("bucket","key","part_number")
);
--> statement-breakpoint
ALTER TABLE "objects" ADD COLUMN "upload_id" text;--> statement-breakpoint
ALTER TABLE "object_parts" ADD CONSTRAINT "object_parts_object_fk" FOREIGN KEY ("bucket","key") REFERENCES "public"."objects"("bucket","key") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "multipart_parts" DROP CONSTRAINT "multipart_parts_pk";
--> statement-breakpoint
ALTER TABLE "multipart_parts" ADD CONSTRAINT "multipart_parts_pk" PRIMARY KEY("upload_id","part_number","backend_etag");