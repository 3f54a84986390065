// A model spec says how to feed an ONNX image classifier and which tensor holds the features:
// everything the featurizer needs to know about a model, and nothing else.
import { z } from 'zod';
import { UserError } from '../util/errors.js';

const scaleOffset = z.object({
  kind: z.literal('scale_offset'),
  /** value = pixel (0..255) * scale + offset */
  scale: z.number(),
  offset: z.number(),
});
const meanStd = z.object({
  kind: z.literal('mean_std'),
  /** value = (pixel / 255 - mean[c]) / std[c] */
  mean: z.tuple([z.number(), z.number(), z.number()]),
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

export const modelSpecSchema = z.object({
  /** Stable identifier written into every output (manifest, Parquet footer, PCA model). */
  id: z.string().min(1).regex(/^[A-Za-z0-9._-]+(@[0-9]+)?$/, 'model id: letters, digits, . _ - only (and @<input size>)'),
  description: z.string().optional(),
  /** File name of the .onnx inside a model folder or the cache. */
  file: z.string().min(1),
  /** Expected sha256 of the file; a mismatch is an error. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Where to download the file when it is in no local folder (verified against sha256). */
  url: z.string().url().optional(),
  input: z.object({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
  normalize: z.discriminatedUnion('kind', [scaleOffset, meanStd]),
  /** The tensor whose values are the features; exposed as a graph output if it is not one. */
  feature: z.object({
    tensor: z.string().min(1),
    dim: z.number().int().positive(),
  }),
});

export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type Normalize = ModelSpec['normalize'];

/** Per-channel affine map pixel → value, the one form both normalisations reduce to. */
export function channelAffine(n: Normalize): { scale: [number, number, number]; offset: [number, number, number] } {
  if (n.kind === 'scale_offset') return { scale: [n.scale, n.scale, n.scale], offset: [n.offset, n.offset, n.offset] };
  const scale = n.std.map((s) => 1 / (255 * s)) as [number, number, number];
  const offset = n.mean.map((m, c) => -m / n.std[c]) as [number, number, number];
  return { scale, offset };
}

export function parseModelSpec(value: unknown, where: string): ModelSpec {
  const r = modelSpecSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: invalid model spec: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

/** The input size a featurizer id names (`<id>@<n>`), if not the network's declared one. */
export function inputSizeOfId(id: string): number | undefined {
  const m = /@([0-9]+)$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/**
 * The spec of a network run at n×n instead of its declared input size. Its id becomes
 * `<id>@<n>`: the id is the featurizer's identity in manifests, PCA models and bundles, so
 * features of different input sizes are refused wherever two feature spaces meet. The declared
 * size keeps the plain id (datasets made before the flag existed stay compatible).
 */
export function withInputSize(spec: ModelSpec, size: number | undefined): ModelSpec {
  if (size === undefined || (spec.input.width === size && spec.input.height === size)) return spec;
  if (inputSizeOfId(spec.id) !== undefined) throw new UserError(`model ${spec.id}: already runs at ${inputSizeOfId(spec.id)}×${inputSizeOfId(spec.id)} ('@<n>' in an id is the input size); use the model's own id with --input-size`);
  return { ...spec, id: `${spec.id}@${size}`, input: { ...spec.input, width: size, height: size } };
}
