// Merge-able feature statistics: accumulate rows, merge partials, move them as files.
export { accumulate, statsOfRows, NonFiniteFeatureError, type RowNamer, type RowsOptions } from './accumulate.js';
export { createStats, cloneStats, mergeInto, mergeStats, mergeAll, mergeTree, covariance, type FeatureStats } from './feature-stats.js';
export { encodeStats, decodeStats, encodePackedStats, decodePackedStats, mergePackedInto, StatsFileError, STATS_FORMAT_VERSION, type PackedStats } from './stats-file.js';
