// Merge-able feature statistics: accumulate rows, merge partials, move them as files.
export { accumulate, statsOfRows, NonFiniteFeatureError, type RowNamer, type RowsOptions } from './accumulate.js';
export { createStats, cloneStats, mergeInto, mergeStats, mergeAll, covariance, type FeatureStats } from './feature-stats.js';
export { encodeStats, decodeStats, StatsFileError, STATS_FORMAT_VERSION } from './stats-file.js';
