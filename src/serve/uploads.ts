// What a request body may be: an image (raw, with an image/* or octet-stream type) read up to
// the size limit, or multipart/form-data holding one file. JSON, text and the rest get 415.
import multipart from '@fastify/multipart';
import { serverWide } from './context.js';

export const uploadsPlugin = serverWide(async (app, { opts }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: opts.maxBodyBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
    throwFileSizeLimit: true,
  });
});
