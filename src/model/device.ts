// The ONNX Runtime execution providers `--device` can name. Its own light module: the CLI checks
// the flag without loading the runtime.
export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];
