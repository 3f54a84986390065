// The deployment's settings, read from CDK context (`cdk.json` or `-c key=value`) and checked once
// here, so every construct gets typed, valid values and a bad flag fails synth with one clear line.
import { z } from 'zod';

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Fargate's valid memory sizes (MiB) for each CPU size (CPU units, 1024 = 1 vCPU). */
const FARGATE_MEMORY: Record<number, readonly number[]> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

// `-c key=value` arrives as a string, cdk.json values arrive typed: accept both.
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const taskSize = z
  .object({ cpu: z.coerce.number().int(), memory: z.coerce.number().int() })
  .refine((t) => FARGATE_MEMORY[t.cpu]?.includes(t.memory) ?? false, {
    message: 'not a valid Fargate size (cpu 256|512|1024|2048|4096|8192|16384 with a memory size Fargate allows for it)',
  });

const settings = z.object({
  /** AWS region of every resource; Paris keeps the data in the EU. */
  region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region such as eu-west-3').default('eu-west-3'),
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'letters, digits and -, starting with a letter').default('Fruits'),
  /** Cost allocation tags. */
  environment: z.string().regex(/^[A-Za-z0-9_.:/=+@-]{1,128}$/).default('dev'),
  owner: optionalString,

  bucketName: optionalString.pipe(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a valid S3 bucket name').optional()),
  /** SSE-KMS with a customer managed key instead of SSE-S3. */
  kmsKey: bool.default(false),
  /** Delete the bucket and its objects with the stack (otherwise the bucket is retained). */
  removeDataOnDestroy: bool.default(false),
  tmpExpirationDays: int(1, 365).default(7),
  noncurrentVersionDays: int(1, 3650).default(30),

  vpcCidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-4])$/, 'an IPv4 CIDR between /16 and /24').default('10.40.0.0/16'),
  /** Pin the zones (e.g. eu-west-3a,eu-west-3b,eu-west-3c); default: the region's first two, resolved at deploy time without a lookup. */
  availabilityZones: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'zone names such as eu-west-3a')).min(2).max(6))
    .optional(),
  /** NAT gateways for the tasks' egress (ECR API, logs, Secrets Manager); S3 traffic bypasses them. */
  natGateways: int(1, 3).default(1),

  redisNodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, 'an ElastiCache node type such as cache.t4g.micro').default('cache.t4g.micro'),
  redisReplicas: int(0, 5).default(0),

  workerCpu: z.coerce.number().int().default(2048),
  workerMemory: z.coerce.number().int().default(4096),
  /** Jobs one worker runs at a time (`fruits worker --concurrency`); unset = the app's default. */
  workerConcurrency: int(1, 64).optional(),
  workerMaxCount: int(1, 500).default(8),
  workerSpot: bool.default(false),
  /** Queue depth (waiting + active jobs) that one worker is expected to absorb; sets the scale-out steps. */
  jobsPerWorker: int(1, 10000).default(4),
  /** Minutes the queue must stay empty before the workers scale to zero. */
  scaleInMinutes: int(1, 60).default(5),

  coordinatorCpu: z.coerce.number().int().default(1024),
  coordinatorMemory: z.coerce.number().int().default(4096),

  serve: bool.default(false),
  /** Key under `models/` of the bundle `fruits serve` loads. */
  serveBundle: z.string().regex(/^[A-Za-z0-9._\/-]+$/, 'a key under models/ (letters, digits, . _ / -)').default('current'),
  serveCpu: z.coerce.number().int().default(1024),
  serveMemory: z.coerce.number().int().default(2048),
  serveCount: int(1, 50).default(1),
  serveAllowedCidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR').default('0.0.0.0/0'),
  /** ACM certificate for HTTPS on an internet-facing load balancer; without it the load balancer is internal. */
  certificateArn: optionalString.pipe(z.string().regex(/^arn:aws[a-z-]*:acm:/, 'an ACM certificate ARN').optional()),
  /** true: an internet-facing load balancer speaking plain HTTP when there is no certificate (uploads readable on the way). */
  servePublicPlainHttp: bool.default(false),
  /** Classify requests per client address per minute (`fruits serve --rate-limit`, behind the load balancer); 0: off. */
  serveRateLimit: int(0, 100000).default(120),
  /** AWS WAF rate-based rule on the public load balancer: requests per client address per 5 minutes; unset: no WAF. */
  serveWafRateLimit: int(10, 2_000_000_000).optional(),

  telegram: bool.default(false),
  /** Key under `models/` of the bundle `fruits telegram` loads. */
  telegramBundle: z.string().regex(/^[A-Za-z0-9._\/-]+$/, 'a key under models/ (letters, digits, . _ / -)').default('current'),
  /** Secrets Manager secret (created by the operator) holding the bot token from BotFather. */
  telegramTokenSecret: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name').default('fruits/telegram-bot-token'),
  telegramCpu: z.coerce.number().int().default(512),
  telegramMemory: z.coerce.number().int().default(2048),

  logRetentionDays: z.coerce
    .number()
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `one of ${LOG_RETENTION_DAYS.join(', ')}`)
    .default(30),
  containerInsights: bool.default(true),
  /** CloudWatch namespace of the queue metrics; differ it per stack sharing an account and region. */
  metricsNamespace: z.string().regex(/^[A-Za-z0-9._/#:-]{1,255}$/).default('Fruits'),

  budgetMonthlyUsd: z.coerce.number().positive().optional(),
  budgetEmail: optionalString.pipe(z.email('an email address').optional()),
});

export const configSchema = settings.superRefine((c, ctx) => {
  const sizes: [string, number, number][] = [
    ['worker', c.workerCpu, c.workerMemory],
    ['coordinator', c.coordinatorCpu, c.coordinatorMemory],
    ['serve', c.serveCpu, c.serveMemory],
    ['telegram', c.telegramCpu, c.telegramMemory],
  ];
  for (const [name, cpu, memory] of sizes) {
    const r = taskSize.safeParse({ cpu, memory });
    if (!r.success) ctx.addIssue({ code: 'custom', path: [`${name}Cpu`], message: `${name} task ${cpu} CPU / ${memory} MiB: ${r.error.issues[0].message}` });
  }
  if (c.budgetMonthlyUsd !== undefined && !c.budgetEmail) {
    ctx.addIssue({ code: 'custom', path: ['budgetEmail'], message: 'budgetMonthlyUsd needs budgetEmail, the address the alerts go to' });
  }
  if (c.servePublicPlainHttp && c.certificateArn) {
    ctx.addIssue({ code: 'custom', path: ['servePublicPlainHttp'], message: 'with certificateArn the service is HTTPS already: drop servePublicPlainHttp' });
  }
  if (c.serveWafRateLimit !== undefined && !c.certificateArn && !c.servePublicPlainHttp) {
    ctx.addIssue({ code: 'custom', path: ['serveWafRateLimit'], message: 'a WAF guards a public load balancer: the service is internal without certificateArn (or servePublicPlainHttp)' });
  }
  const zones = c.availabilityZones?.length ?? 2;
  if (c.natGateways > zones) {
    ctx.addIssue({ code: 'custom', path: ['natGateways'], message: `${c.natGateways} NAT gateways for ${zones} availability zones` });
  }
  const wrongRegion = c.availabilityZones?.find((az) => !az.startsWith(c.region));
  if (wrongRegion) ctx.addIssue({ code: 'custom', path: ['availabilityZones'], message: `${wrongRegion} is not in ${c.region}` });
});

export type FruitsConfig = z.infer<typeof configSchema>;
export const CONFIG_KEYS = Object.keys(settings.shape) as (keyof FruitsConfig)[];

export class ConfigError extends Error {}

/** Reads every known key through `get` (e.g. `app.node.tryGetContext`) and validates them together. */
export function readConfig(get: (key: string) => unknown): FruitsConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const v = get(key);
    if (v !== undefined && v !== null) raw[key] = v;
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue.path.join('.') || '(context)';
    throw new ConfigError(`fruits deploy: context ${key}: ${issue.message}`);
  }
  return r.data;
}
