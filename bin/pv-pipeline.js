#!/usr/bin/env node
// Entry point of the `pv-pipeline` CLI: the built JavaScript (npm install builds it; npm run build again
// after changing the sources). Node's compile cache keeps the compiled code between starts.
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
