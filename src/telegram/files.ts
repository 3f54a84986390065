// Which file of a message to look at, and fetching it from the Bot API within a size limit.
// The size is checked from what Telegram declares (`file_size` of the message, then of getFile)
// before any byte is downloaded, and again while downloading (a declaration may be missing).
import type { Api } from 'grammy';
import type { Message } from 'grammy/types';

export interface ImageFile {
  fileId: string;
  /** Declared size in bytes, when Telegram gives it. */
  size?: number;
  source: 'photo' | 'document';
}

/** The file of a message that is over the limit: refused without downloading. */
export class FileTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`the file is over the limit of ${limitBytes} bytes`);
    this.name = 'FileTooLargeError';
  }
}

/** Telegram did not give us the file (getFile failed, an HTTP error, a timeout, a cut connection). */
export class DownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownloadError';
  }
}

const IMAGE_NAME = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif|bmp)$/i;

/**
 * The image of a message: the largest size of a photo (the largest within the limit when the
 * biggest is over it; the network sees 224 × 224 anyway), or a document that is an image by
 * MIME type or name. `undefined`: a document that is no image. `null`: no file at all.
 */
export function imageFileOf(message: Message, maxBytes: number): ImageFile | undefined | null {
  if (message.photo?.length) {
    const sizes = [...message.photo].sort((a, b) => a.width * a.height - b.width * b.height);
    const fitting = sizes.filter((s) => s.file_size === undefined || s.file_size <= maxBytes);
    const chosen = fitting.at(-1) ?? sizes.at(-1)!;
    return { fileId: chosen.file_id, size: chosen.file_size, source: 'photo' };
  }
  const doc = message.document;
  if (doc) {
    const isImage = doc.mime_type?.toLowerCase().startsWith('image/') || IMAGE_NAME.test(doc.file_name ?? '');
    return isImage ? { fileId: doc.file_id, size: doc.file_size, source: 'document' } : undefined;
  }
  return null;
}

export interface DownloadOptions {
  api: Api;
  apiRoot: string;
  token: string;
  maxBytes: number;
  timeoutMs: number;
}

/** The file's bytes. Throws FileTooLargeError or DownloadError; messages never hold the URL. */
export async function downloadFile(file: ImageFile, opts: DownloadOptions): Promise<Buffer> {
  if (file.size !== undefined && file.size > opts.maxBytes) throw new FileTooLargeError(opts.maxBytes);
  let info;
  try {
    info = await opts.api.getFile(file.fileId);
  } catch (err) {
    throw new DownloadError('getFile failed', { cause: err });
  }
  if (info.file_size !== undefined && info.file_size > opts.maxBytes) throw new FileTooLargeError(opts.maxBytes);
  if (!info.file_path) throw new DownloadError('getFile gave no file_path (the file is no longer available)');
  const url = `${opts.apiRoot}/file/bot${opts.token}/${info.file_path.split('/').map(encodeURIComponent).join('/')}`;
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'error' });
  } catch (err) {
    throw new DownloadError(signal.aborted ? `no file after ${opts.timeoutMs / 1000} s` : 'the download failed', { cause: err });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new DownloadError(`the download answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new FileTooLargeError(opts.maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > opts.maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new FileTooLargeError(opts.maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof FileTooLargeError) throw err;
    throw new DownloadError(signal.aborted ? `the download took over ${opts.timeoutMs / 1000} s` : 'the download was cut off', { cause: err });
  }
  return Buffer.concat(chunks);
}
