/** Local S3 backends for development: s3rver instances persisted in folders (they do not verify signatures). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from './ports.ts';

export interface LocalBackend {
  name: string;
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

export async function startS3rverBackend(name: string, dataDir: string, bucket: string, port?: number): Promise<LocalBackend> {
  const directory = join(dataDir, name);
  mkdirSync(directory, { recursive: true });
  const listenPort = port ?? (await freePort());
  const server = new S3rver({ port: listenPort, address: '127.0.0.1', directory, silent: true, configureBuckets: [{ name: bucket }] });
  await server.run();
  let stopped = false;
  return {
    name,
    endpoint: `http://127.0.0.1:${listenPort}`,
    bucket,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
  };
}
