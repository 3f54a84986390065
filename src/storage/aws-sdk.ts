// The AWS SDK, loaded on first use rather than at import: its modules cost 0.4–0.9 s of start-up
// in every process (the coordinator and each worker), which runs on local folders paid for nothing.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let clientS3: typeof import('@aws-sdk/client-s3') | undefined;
let libStorage: typeof import('@aws-sdk/lib-storage') | undefined;

export const s3Sdk = (): typeof import('@aws-sdk/client-s3') => (clientS3 ??= require('@aws-sdk/client-s3'));
export const s3Uploads = (): typeof import('@aws-sdk/lib-storage') => (libStorage ??= require('@aws-sdk/lib-storage'));
