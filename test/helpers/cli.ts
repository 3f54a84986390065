// Runs the compiled `fruits` CLI in a child process, as a user would, with the shared model
// folder and a private cache folder (so nothing is ever downloaded or written to ~/.cache).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliMain, modelsDir } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let cacheDir: string | undefined;
/** One cache folder per test process; it stays empty unless a test downloads on purpose. */
export function testCacheDir(): string {
  if (!cacheDir) {
    const dir = (cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fruits-cache-')));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return cacheDir;
}

export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FRUITS_MODEL_DIR: modelsDir, FRUITS_CACHE_DIR: testCacheDir(), ...extra };
  // The test runner's NODE_TEST_CONTEXT must not leak into the CLI (it is no test file).
  delete env.NODE_TEST_CONTEXT;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Start the CLI as the leader of its own process group (to kill it with its workers). */
  detached?: boolean;
}

export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [cliMain, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
}

/** Whether any process of the group led by `pgid` (a CLI started with `detached`) is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return collect(spawnCli(args, opts));
}

/** A failed run's output, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Runs `fruits featurize … --json --quiet`, asserts exit 0 and returns the JSON summary. */
export async function featurize(args: string[], opts: CliOptions = {}): Promise<FeaturizeSummaryJson> {
  const r = await runCli(['featurize', ...args, '--json', '--quiet'], opts);
  if (r.code !== 0) throw new Error(`fruits featurize ${args.join(' ')} failed:\n${show(r)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as FeaturizeSummaryJson;
  } catch {
    throw new Error(`featurize --json printed no JSON summary:\n${show(r)}`);
  }
}

export interface FeaturizeSummaryJson {
  output: string;
  listed: number;
  rows: number;
  rejects: number;
  labels: number;
  partitions: number;
  resumedPartitions: number;
  seconds: number;
  imagesPerSecond: number;
}

// The logger's informational lines ("12:34:56 info …") are not errors; everything else on
// stderr is what the user reads as the error report.
const LOG_LINE = /^\d\d:\d\d:\d\d (trace|debug|info) /;

/** The lines of stderr other than informational log lines. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !LOG_LINE.test(l));
}
