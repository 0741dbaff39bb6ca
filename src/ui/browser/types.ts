/** What the admin API answers, as the dashboard reads it (docs/admin-api.md describes each route). */

export interface DrainView {
  mode: string;
  active: boolean;
  objects_remaining: number;
  bytes_remaining: number;
  deletes_queued: number;
  objects_moved: number;
  bytes_moved: number;
  copies_dropped: number;
  failures: number;
  waiting_for_space: boolean;
  last_error?: string;
  started_at?: string;
  completed_at?: string;
  cancelled_at?: string;
  eta_seconds: number | null;
}

export interface BackendView {
  name: string;
  bytes_used: number;
  bytes_limit: number | null;
  bytes_available: number | null;
  orphan_bytes: number;
  objects: number;
  multipart_uploads: number;
  usage: {
    api_requests: number;
    api_request_limit: number;
    egress_bytes: number;
    egress_byte_limit: number;
    ingress_bytes: number;
    ingress_byte_limit: number;
  };
  state: string;
  breaker: { state: 'closed' | 'open' | 'half-open'; consecutive_failures: number };
  last_error?: string;
  drain?: DrainView;
}

export interface LeaseView {
  last_run_at: string | null;
  running: boolean;
  more_pending: boolean;
  totals: Record<string, number>;
}

export interface BulkJobView {
  status: 'running' | 'complete' | 'failed' | string;
  kind: string;
  job: string;
  failed: number;
  total: number;
  skipped: number;
  bytes: number;
  started_at: string;
  finished_at?: string;
  last_error?: string;
  encrypted?: number;
  decrypted?: number;
  rotated?: number;
}

export interface CleanupItemView {
  backend: string;
  physical_key: string;
  reason: string;
  size: number;
  attempts: number;
  stuck: boolean;
  next_retry: string;
  last_error: string | null;
}

export interface VersionView {
  version: number;
  created_at: string;
  source: string;
  by: string;
  note?: string;
}

export interface DashboardView {
  generated_at: string;
  environment: 'development' | 'production';
  period: string;
  warnings?: string[];
  storage: { bytes_used: number; bytes_limit: number; orphan_bytes: number; copies: number; multipart_uploads: number };
  backends: BackendView[];
  replication: { factor: number; under_replicated: number; over_replicated: number; count_cap: number; last_run: LeaseView };
  cleanup_queue: { depth: number; due: number; stuck: number; max_attempts: number; items: CleanupItemView[] };
  jobs: {
    lifecycle: LeaseView;
    multipart_gc: LeaseView;
    rebalance: LeaseView;
    reconcile: LeaseView;
    replication: LeaseView;
    scrub: LeaseView;
    bulk: BulkJobView[];
  };
  config: { active_version: number | null; versions: VersionView[] };
}

export interface BucketView {
  name: string;
  objects: number;
  bytes: number;
}

export interface TreeEntry {
  name: string;
  kind: 'dir' | 'object';
  objects: number;
  bytes: number;
  last_modified: string | null;
}

export interface TreePage {
  bucket: string;
  prefix: string;
  entries: TreeEntry[];
  next_after: string | null;
}

export interface ObjectLocations {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  version: string;
  last_modified: string;
  locations: { backend: string; physical_key: string; stored_size: number; created_at: string; configured: boolean }[];
}

export interface ConfigVersionDocument extends VersionView {
  yaml: string;
}

/** One admin action from the fleet's ring (GET /admin/api/events). */
export interface AdminEventView {
  seq: number;
  time: string;
  event: string;
  actor: string;
  params: Record<string, string | number | boolean | readonly string[]>;
  status: number;
  outcome: 'success' | 'refused' | 'failed';
}

export interface AdminEventPage {
  events: AdminEventView[];
  last: number;
}
