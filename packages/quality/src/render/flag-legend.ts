import { OUTLIER_Z } from '../checks/outliers.js';
import { SHIFT_DAYS, SHIFT_MINUTES } from '../checks/time-shift.js';
import type { FlagKind } from '../quality-json.js';

/** What each kind of flag means, in a sentence for the report's readers. */
export const FLAG_DESCRIPTIONS: Readonly<Record<FlagKind, string>> = {
  missing_days:
    "Days between the system's first and last day with data without a daily object holding readings (whole-period files: without a single reading); sensor * is the whole system, share is of the system's days.",
  time_shift: `Measured midday (the centre of daylight power) ${SHIFT_MINUTES} min or more off the baseline, the same way, on ${SHIFT_DAYS} or more judged days in a row: a clock or time-zone error (shift: positive is late).`,
  stuck:
    'Power, irradiance, temperature or current at one non-zero value for 2 h or more with the sun above 10° (a plateau at the peak is clipping, not stuck).',
  negative_daylight: 'Power below −1 % of capacity (below 0 without one) with the sun above 10°.',
  night_generation: 'Power above 1 % of capacity with the sun below −5°.',
  over_capacity: 'AC power above 1.2 × the DC capacity.',
  out_of_range: 'Irradiance, temperature, voltage or frequency outside physical limits.',
  unit_suspect:
    'Values that fit another unit: power 20 × capacity (W labelled kW) or never above capacity / 200 (kW labelled W); temperatures that look like °F labelled °C.',
  outlier: `A 10-minute mean with a robust z-score above ${OUTLIER_Z} against the same time of day on the other days (power and irradiance: upward only).`,
};
