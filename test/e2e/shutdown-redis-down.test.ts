import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { type ServeAll, startServeAll } from '../support/serve-all.js';
import { waitFor } from '../support/wait-for.js';

/**
 * With Redis gone, a SIGTERM still stops every role: `serve all` closes its
 * roles without waiting on Redis and exits 0 ("stopped") instead of hanging
 * until a supervisor's SIGKILL (Kubernetes' grace period, Slurm's kill timeout).
 */
describe('shutdown with Redis down', () => {
  let deployment: ServeAll;

  beforeAll(async () => {
    deployment = await startServeAll({ mirror: SAMPLE_MIRROR, env: { PV_SHUTDOWN_GRACE_MS: '20000' } });
  }, 120_000);

  afterAll(async () => {
    await deployment?.destroy();
  });

  it('serve all exits 0 on SIGTERM after Redis was killed, having logged each reconnect in one line', async () => {
    await deployment.redis.stop(true);
    await waitFor(() => /redis connection lost; reconnecting/.test(deployment.logs()), {
      timeoutMs: 60_000,
      what: 'a reconnect line',
    });
    let code: number | null | undefined;
    void deployment.service.kill('SIGTERM').then((c) => {
      code = c;
    });
    // a generous bound: the services' own hard stop comes at the grace period (20 s) + 10 s
    await waitFor(() => code !== undefined, { timeoutMs: 120_000, what: 'serve all to exit' });
    const logs = deployment.logs();
    expect(code, logs.slice(-3000)).toBe(0);
    expect(logs).toMatch(/"msg":"stopped"/);
    // no stack traces: every line the process wrote is one JSON object
    for (const line of logs.trim().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
