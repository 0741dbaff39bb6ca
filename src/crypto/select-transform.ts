/** Chooses how objects are stored at rest for a configuration. Encryption arrives in its own issue. */
import type { Config } from '../config/types.ts';
import { type StorageTransform, plaintextStorage } from './storage-transform.ts';

export function storageTransformFor(_config: Config): StorageTransform {
  return plaintextStorage;
}
