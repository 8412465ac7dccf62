import { DuckDBInstance } from '@duckdb/node-api';

export interface Check {
  ok: boolean;
  rows: { pipeline: number; reference: number };
  mismatches: string[];
}

/** Compares the two pv_readings tables per ss_id (count, fsum, Σ epoch µs, XOR of row hashes). */
export async function compare(pipelineDb: string, referenceDb: string): Promise<Check> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await conn.run(`ATTACH '${pipelineDb}' AS p (READ_ONLY)`);
    await conn.run(`ATTACH '${referenceDb}' AS r (READ_ONLY)`);
    const per = (alias: string) => `SELECT ss_id, count(*) AS n, fsum(value) AS s,
        sum(epoch_us("timestamp")::HUGEINT)::VARCHAR AS t,
        bit_xor(hash(ss_id, "timestamp", measured_on, sensor, metric_id, units, value, source_key))::VARCHAR AS x
      FROM ${alias}.pv_readings GROUP BY ss_id`;
    const rows = (
      await conn.runAndReadAll(`SELECT coalesce(a.ss_id, b.ss_id) AS ss_id, a.n AS pn, b.n AS rn, a.s AS ps, b.s AS rs,
          a.t AS pt, b.t AS rt, a.x AS px, b.x AS rx
        FROM (${per('p')}) a FULL OUTER JOIN (${per('r')}) b ON a.ss_id = b.ss_id ORDER BY 1`)
    ).getRowObjectsJS();
    const mismatches: string[] = [];
    let pTotal = 0;
    let rTotal = 0;
    for (const r of rows) {
      const pn = Number(r.pn ?? 0);
      const rn = Number(r.rn ?? 0);
      pTotal += pn;
      rTotal += rn;
      const ps = Number(r.ps ?? Number.NaN);
      const rs = Number(r.rs ?? Number.NaN);
      const what: string[] = [];
      if (pn !== rn) what.push(`rows ${pn} vs ${rn}`);
      if (!(Math.abs(ps - rs) <= 1e-9 * Math.max(1, Math.abs(rs)))) what.push(`sum(value) ${ps} vs ${rs}`);
      if (r.pt !== r.rt) what.push(`Σ timestamp µs ${r.pt} vs ${r.rt}`);
      if (r.px !== r.rx) what.push('row hashes differ (some column of some row)');
      if (what.length > 0) mismatches.push(`ss_id ${String(r.ss_id)}: ${what.join('; ')} (pipeline vs reference)`);
    }
    return {
      ok: mismatches.length === 0 && pTotal === rTotal,
      rows: { pipeline: pTotal, reference: rTotal },
      mismatches,
    };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
