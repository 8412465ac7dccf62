import { parentPort } from 'node:worker_threads';
import { sunPosition } from '@pv-pipeline/quality/solar';
import type { SunSeries, SunSpanRequest } from './sun-positions.js';

/**
 * The worker thread of {@link SunPositions}: computes the sun's position at
 * the centre of every bucket of the spans asked for (NREL SPA, the quality
 * report's implementation) while the main thread drives the engine.
 */
parentPort!.on('message', (msg: { key: number; intervalS: number; spans: SunSpanRequest[] }) => {
  const series: SunSeries[] = msg.spans.map((s) => {
    const n = Math.max(0, s.last - s.first + 1);
    const zenith = new Float64Array(n);
    const azimuth = new Float64Array(n);
    const site = { latitude: s.latitude, longitude: s.longitude, elevation: s.elevation };
    for (let i = 0; i < n; i++) {
      const p = sunPosition(site, ((s.first + i) * msg.intervalS + msg.intervalS / 2) * 1000);
      zenith[i] = p.zenith;
      azimuth[i] = p.azimuth;
    }
    return { ss_id: s.ss_id, first: s.first, zenith, azimuth };
  });
  parentPort!.postMessage(
    { key: msg.key, series },
    series.flatMap((s) => [s.zenith.buffer as ArrayBuffer, s.azimuth.buffer as ArrayBuffer]),
  );
});
