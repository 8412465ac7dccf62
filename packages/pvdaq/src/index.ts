export { dictionaryOf, type MetricsDictionary } from './catalog/metrics-dictionary.js';
export { uniqueSensorNames } from './catalog/sensor-names.js';
export { SystemCatalog, zoneSourcesOf } from './catalog/system-catalog.js';
export { parseTimeZone, type TimeZoneSpec, UTC_ZONE } from './catalog/time-zone.js';
export {
  isPrizeKey,
  listPrizeFolders,
  PRIZE_PREFIX,
  parsePartKey,
  parsePrizeKey,
  partKey,
  prizeDataPrefix,
  splitByteRanges,
} from './layout/prize-layout.js';
export {
  METRICS_PREFIX,
  monthsInRange,
  parsePvdataKey,
  parseSystemFolder,
  parseYearFolder,
  pvdataMonthPrefix,
  pvdataRootPrefix,
  pvdataSystemPrefix,
  pvdataYearPrefix,
  SYSTEMS_INDEX_COLUMNS,
} from './layout/pvdata-layout.js';
export { firstCsvLine, parseCsvLine } from './readers/csv-lines.js';
export { readCsvPvdata } from './readers/csv-pvdata-reader.js';
export { readParquetPvdata } from './readers/parquet-pvdata-reader.js';
export type { PrizeHeader } from './readers/prize-columns.js';
export { emptyPrizeCsvStats, type PrizeCsvStats, readPrizeCsv } from './readers/prize-csv-reader.js';
export { readPrizeHeader } from './readers/prize-header.js';
export { RawColumnBuffers, RawReadingsBuilder } from './readers/raw-readings.js';
export { type ResidentialColumn, residentialColumns, residentialDictionary } from './readers/residential-csv.js';
export { parseTimestampText } from './readers/timestamp-text.js';
export { LocalTimeResolver, ZoneClock } from './rules/local-time.js';
export { NormalizedBuffers, type NormalizedReadings, normalizeReadings, timeRangeOf } from './rules/normalize.js';
export { parseCell, READING_RULES, type ReadingRule, ruleForValue, SENTINELS } from './rules/reading-rules.js';
export { FileObjectStore } from './store/file-object-store.js';
export { linesOfRange } from './store/line-range.js';
export { type ObjectStore, pinTo, type ReadPin } from './store/object-store.js';
export { openObjectStore } from './store/open-object-store.js';
export { S3ObjectStore } from './store/s3-object-store.js';
