// The decoder's default limit, in a module of its own so the CLI can show it without loading sharp.
export const DEFAULT_MAX_PIXELS = 100_000_000;
