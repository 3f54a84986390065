import { readFileSync } from 'node:fs';

// package.json sits two levels above dist/src/.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export const SOFTWARE = { name: pkg.name, version: pkg.version };
