import type { Command } from 'commander';
import { z } from 'zod';
import { SCALE_MODES, type ComponentSelection, type ScaleMode } from '../pca/index.js';
import { UsageError, optionalFlag, parseFlag } from './options.js';

export const DEFAULT_VARIANCE = 0.95;

export function addPcaOptions(cmd: Command): Command {
  return cmd
    .option('--k <n>', 'number of principal components to keep')
    .option('--variance <r>', `keep the fewest components whose cumulative explained variance reaches r (default ${DEFAULT_VARIANCE})`)
    .option('--scale <mode>', 'standardisation before PCA: standard (StandardScaler), minmax (MinMaxScaler) or none', 'standard');
}

export function pcaOptionsOf(o: Record<string, unknown>): { scale: ScaleMode; components: ComponentSelection } {
  // Own messages: zod's defaults read "expected Too small: expected number to be >=1".
  const scale = parseFlag(z.enum(SCALE_MODES, { error: 'standard, minmax or none' }), o.scale ?? 'standard', '--scale');
  const kSchema = z.string().trim().regex(/^\d+$/, 'a whole number').transform(Number).pipe(z.number().int().min(1, 'a whole number of at least 1'));
  const k = optionalFlag(kSchema, o.k, '--k');
  const varianceSchema = z.string().trim().regex(/^(0?\.\d+|1(\.0+)?|0)$/, 'a number in (0, 1]').transform(Number).pipe(z.number().gt(0, 'a number in (0, 1]').max(1));
  const variance = optionalFlag(varianceSchema, o.variance, '--variance');
  if (k !== undefined && variance !== undefined) throw new UsageError('--k and --variance: give one or the other');
  return { scale, components: k !== undefined ? { k } : { variance: variance ?? DEFAULT_VARIANCE } };
}
