// Shared benchmark plumbing: where the shared data is, datasets of repeated photos, child runs.
import { spawn } from 'node:child_process';
import { promises as fs, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const shared = process.env.FRUITS_SHARED_DIR ?? path.resolve(repoRoot, '..', 'shared');
export const miniData = path.join(shared, 'data', 'fruits360-mini');
export const modelDir = path.join(shared, 'models');
export const cli = path.join(repoRoot, 'dist', 'bundle', 'main.js');
/** The raw-inference child (the network alone on synthetic tensors), as built by tsc. */
export const rawInferScript = path.join(repoRoot, 'dist', 'bench', 'raw-infer.js');

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out.sort();
}

/**
 * A new name for `src` at `dst`: a hard link — a plain file to a listing, as a user's photos are
 * (a symlink costs every stat a second path lookup) — or a symlink where the two are on different
 * file systems or hard links are not allowed.
 */
export async function linkPhoto(src: string, dst: string): Promise<void> {
  try {
    await fs.link(src, dst);
  } catch {
    await fs.symlink(src, dst);
  }
}

/**
 * A dataset of `count` images: the mini dataset's photos repeated under new paths (linked, so the
 * same bytes) as rep-<r>/<split>/<label>/<file>.
 */
export async function repeatedDataset(count: number): Promise<string> {
  const dir = path.join(os.tmpdir(), `fruits-bench-photos-${count}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  await fs.rm(dir, { recursive: true, force: true });
  const files = await listFiles(miniData);
  for (let i = 0; i < count; i++) {
    const src = files[i % files.length];
    const rel = path.relative(miniData, src);
    const dst = path.join(dir, `rep-${String(Math.floor(i / files.length)).padStart(3, '0')}`, rel);
    await fs.mkdir(path.dirname(dst), { recursive: true });
    await linkPhoto(src, dst);
  }
  await fs.writeFile(path.join(dir, '.complete'), '');
  return dir;
}

export function runNode(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export function table(rows: [string, string | number][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : v}`).join('\n');
}

// CPU time from /proc (Linux). The machine is shared: wall-clock figures swing with the other
// sessions' load, so benchmarks also give their ratios per CPU-second.
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s

/** Fields 3… of /proc/<pid>/stat (after the command name, which may hold spaces). */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system, fields 14 and 15) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/**
 * CPU seconds of this process's finished, reaped children and their own reaped children (fields
 * 16 and 17): a CLI run and its worker processes, which the CLI reaps before it exits.
 */
export function childrenCpuSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}
