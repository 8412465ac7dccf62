#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=262144 node --max-semi-space-size=2 --v8-pool-size=2 --heap-growing-percent=20
// Entry point of the `pv-pipeline` CLI: the built JavaScript (npm install builds it; npm run build again
// after changing the sources). Node's compile cache keeps the compiled code between starts.
// A small young generation (2 MiB semi-spaces, as the image's entry point): parsing garbage is collected
// young, which keeps a run of the whole bench mirror near 450 MB peak RSS instead of 600 on Node 24.
// Two malloc arenas instead of glibc's 8 per core: DuckDB's and libuv's threads then reuse freed memory
// instead of holding it in arenas of their own (bench/RESULTS.md, "Peak RSS of a CLI run").
// Two V8 helper threads instead of Node's four: on 2 cores, four GC helpers crowd DuckDB's threads; a run of the
// bench mirror spent about 7 % less CPU with two (alternating runs, bench/RESULTS.md, issue #19).
// The old generation may grow 20 % past what survived a full collection before the next (V8 lets it grow up
// to 4x when collections are quick): the I/O buffers that a scavenge promoted are freed within a few MB
// instead of piling up; and buffers of 256 KiB and more (reads, encoded row groups) get pages of their own
// (MALLOC_MMAP_THRESHOLD_), returned when freed instead of left scattered in malloc's heap. Together about
// 60-90 MB less peak RSS for a prize CSV at the same CPU, and 50-70 MB less for the bench mirror at about
// 5 % more CPU (bench/RESULTS.md, issue #19).
import module from 'node:module';

module.enableCompileCache?.();
try {
  await import('../dist/cli.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    process.stderr.write('pv-pipeline: not built yet: run `npm run build` (npm install does it)\n');
    process.exit(1);
  }
  throw err;
}
