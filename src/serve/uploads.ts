// What a request body may be: an image (raw, with an image/* or octet-stream type) read up to
// the size limit, or multipart/form-data holding one file. JSON, text and the rest get 415.
// The routes that take an upload (`config: { upload: true }`) find its bytes in request.upload,
// read before admission; a form is read as it streams, so that a file over the limit is refused
// (413) the moment it passes it, with the rest left unread and the connection closed.
import type { MultipartFile } from '@fastify/multipart';
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { serverWide } from './context.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Read this route's upload into request.upload before its handler (and before admission). */
    upload?: boolean;
  }
  interface FastifyRequest {
    upload?: Buffer;
  }
}

const FORM_LIMITS = { files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 };

// `image/jpeg; charset=utf-8` is still a JPEG: parameters are allowed and ignored.
const IMAGE_TYPE = /^image\/[\w.+-]+\s*(;.*)?$/i;

export const uploadsPlugin = serverWide(async (app, { opts, metrics }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(IMAGE_TYPE, { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { ...FORM_LIMITS, fileSize: opts.maxBodyBytes }, throwFileSizeLimit: true });

  const tooLarge = () => {
    metrics.rejectedImages.inc({ reason: 'too_large' });
    return new HttpError(413, 'payload_too_large', `the upload is larger than ${opts.maxBodyBytes} bytes`, { connection: 'close' });
  };

  /** The form's one file, read as it arrives and refused as soon as it is over the limit. */
  async function formFile(request: FastifyRequest): Promise<Buffer> {
    let file: MultipartFile | undefined;
    try {
      file = await request.file();
    } catch (err) {
      throw formError(err);
    }
    if (!file) throw new HttpError(422, 'no_file', 'the form holds no file: send the image in a file field');
    const chunks: Buffer[] = [];
    // At the limit busboy stops passing data on but would read the rest of the part to its end:
    // end the stream there instead, which stops the parsing.
    const stream = file.file;
    stream.once('limit', () => stream.destroy(tooLarge()));
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    } catch (err) {
      throw err instanceof HttpError ? err : formError(err);
    }
    if (stream.truncated) throw tooLarge();
    return Buffer.concat(chunks);
  }

  function formError(err: unknown): Error {
    const e = err as Error & { code?: string; statusCode?: number };
    if (err instanceof HttpError) return err;
    if (e.code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge();
    if (e.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return e;
    if (e.code === 'FST_PARTS_LIMIT' || e.code === 'FST_FILES_LIMIT' || e.code === 'FST_FIELDS_LIMIT') {
      const { files, fields, parts } = FORM_LIMITS;
      return new HttpError(413, 'too_many_parts', `the form has too many parts: at most ${files} file, ${fields} fields and ${parts} parts in all`, { connection: 'close' });
    }
    // Everything else busboy raises is the form's own fault: no or wrong boundary, truncated, bad part headers.
    return new HttpError(400, 'bad_multipart', `malformed multipart/form-data: ${e.message}`, { connection: 'close' });
  }

  app.addHook('preValidation', async (request) => {
    if (!request.routeOptions.config.upload) return;
    if (request.isMultipart()) {
      request.upload = await formFile(request);
    } else if (Buffer.isBuffer(request.body)) {
      request.upload = request.body;
    } else {
      throw new HttpError(415, 'unsupported_media_type', 'send the image as the body with an image/* content type, or as a file in multipart/form-data');
    }
    if (request.upload.length === 0) throw new HttpError(422, 'empty_image', 'the upload is empty');
  });
});
