/** The Notary server client: HTTP transport, URL building and error translation. */
export {
  NotaryServerClient,
  DEFAULT_TIMEOUT_MS,
  MAX_ERROR_BYTES,
  MAX_KEY_BYTES,
  MAX_TIMESTAMP_BYTES,
  MAX_UNKNOWN_BYTES,
} from './server-client';
export type { NotaryServerClientOptions } from './server-client';
export type { MultipartFile } from './multipart';
