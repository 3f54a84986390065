// `fruits serve`: a bundle served over HTTP (the server itself lives in src/serve/).
import type { Command } from 'commander';
// Value imports here are light: the commands load the classifier, the model and the pools when
// they run, so that `fruits --help` and the other commands do not pay for them.
import type { Logger } from '../util/logger.js';
import { featurizerFileOption, threadsOption } from './flag-groups.js';
import { FEATURE_LOG_DEFAULTS, SERVE_DEFAULTS, WATCH_DEFAULT_SECONDS, serveOptionsOf } from '../serve/options.js';

export function registerServe(program: Command, log: () => Logger): void {
  program
    .command('serve')
    .description('serve a bundle over HTTP: POST /v1/classify, a phone-friendly page at /, health and Prometheus metrics')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .option('--port <n>', `TCP port (default ${SERVE_DEFAULTS.port}, or $PORT)`)
    .option('--host <address>', `address to listen on (default ${SERVE_DEFAULTS.host}, or $HOST)`)
    .addOption(featurizerFileOption())
    .addOption(threadsOption())
    .option('--max-batch <n>', `images per inference call (default ${SERVE_DEFAULTS.maxBatch})`)
    .option('--max-wait-ms <ms>', `how long the first image of a batch waits for others (default ${SERVE_DEFAULTS.maxWaitMs})`)
    .option('--max-queue <n>', `classify requests handled at once (decoding, waiting, inferring); more are answered 503 at once (default ${SERVE_DEFAULTS.maxQueue})`)
    .option('--max-body <bytes>', `largest upload in bytes (default ${SERVE_DEFAULTS.maxBodyBytes})`)
    .option('--max-pixels <n>', `largest image in pixels, checked from the header before decoding (default ${SERVE_DEFAULTS.maxPixels})`)
    .option('--cors-origin <origins>', 'comma-separated origins allowed to call the API from a browser, or * (default none; or $FRUITS_CORS_ORIGINS)')
    .option('--rate-limit <n>', 'requests per client address per minute on /v1/classify (default off; or $FRUITS_RATE_LIMIT)')
    .option('--decode-size <native|model>', 'native: decode photos at their size and batch same-size ones (resize in ONNX Runtime); model: resize each to the network input in sharp (default native)')
    .option('--body-timeout <ms>', `time for a request's headers and body to arrive, else 408 and the connection closed; also how long a new connection may stay silent (default ${SERVE_DEFAULTS.bodyTimeoutMs})`)
    .option('--keep-alive-timeout <ms>', `how long an idle keep-alive connection stays open (default ${SERVE_DEFAULTS.keepAliveTimeoutMs}; above the load balancer's idle timeout behind one)`)
    .option('--max-client-connections <n>', `open connections per client address, more are answered 429; 0: no bound; off with --trust-proxy (default ${SERVE_DEFAULTS.maxClientConnections})`)
    .option('--drain-timeout <ms>', `on SIGTERM, how long admitted requests may take to finish before connections are cut (default ${SERVE_DEFAULTS.drainTimeoutMs})`)
    .option('--trust-proxy <addresses>', "comma-separated addresses/CIDRs of the proxies in front (a load balancer's subnets, or loopback); from them the client address comes from X-Forwarded-For (default none; or $FRUITS_TRUST_PROXY)")
    .option('--watch [seconds]', `follow the bundle location: look for a new bundle there every so many seconds (default ${WATCH_DEFAULT_SECONDS}); a complete one is loaded and swapped in (requests under way finish on the old one), a broken one is refused with a warning and the old one keeps serving`)
    .option('--log-features <location>', "log each classified photo's features (never the photo), time, answer, novelty and bundle as Parquet parts in this folder or s3:// prefix, for fruits drift; a failing store is a warning, never a failed request")
    .option('--log-flush-rows <n>', `write a log part every n answers (default ${FEATURE_LOG_DEFAULTS.flushRows})`)
    .option('--log-flush-seconds <s>', `and at least this often (default ${FEATURE_LOG_DEFAULTS.flushSeconds}); always on shutdown`)
    .addHelpText('after', '\nExamples:\n  $ fruits serve out/bundle --port 8080\n  $ fruits serve out/bundle --host 0.0.0.0 --cors-origin https://app.example.com --rate-limit 120\n  $ fruits serve s3://bucket/models/current --host 0.0.0.0 --trust-proxy 10.0.0.0/16 --rate-limit 120 --keep-alive-timeout 65000\n  $ fruits serve s3://bucket/models/current --watch 60   # picks up each bundle fruits train publishes there\n  $ fruits serve out/bundle --log-features s3://bucket/serve-log/   # then: fruits drift out/bundle s3://bucket/serve-log/')
    .action(async (bundleDir: string, o: Record<string, unknown>) => {
      const opts = serveOptionsOf(o, process.env);
      const { readBundle } = await import('../classify/bundle.js');
      const bundle = await readBundle(bundleDir);
      const logger = log();
      const { startServer } = await import('../serve/server.js');
      const server = await startServer(bundle, { ...opts, logger });
      const stop = async (signal: string) => {
        logger.info(`${signal}: shutting down`);
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
