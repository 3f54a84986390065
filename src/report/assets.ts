// The chart runtime inlined into report.html, read from the installed vega package so the
// report opens with no network and always matches the Vega version the specs were compiled for.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let vegaSource: string | undefined;

/** vega.min.js (the browser build, which defines the global `vega`), read once per process. */
export function vegaBrowserBuild(): string {
  if (vegaSource === undefined) {
    // The package exports map hides build/vega.min.js, but its main entry sits beside it.
    const entry = createRequire(import.meta.url).resolve('vega');
    const file = join(dirname(entry), 'vega.min.js');
    try {
      vegaSource = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the Vega browser build at ${file}: is the vega package installed?`, { cause: err });
    }
  }
  return vegaSource;
}
