/**
 * The sequential colour scale of the rasters: viridis (perceptually uniform,
 * readable in greyscale and by most colour-blind readers) as a lookup table
 * of stops, linearly interpolated.
 */

/** An sRGB colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number];

/** Viridis at t = 0, 1/9, …, 1 (the ten colours of R's `viridis(10)`). */
export const VIRIDIS: readonly Rgb[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

/** Colour of a cell without a reading: a light neutral grey, outside the scale. */
export const NO_DATA: Rgb = [221, 221, 221];

/** The colour of `t` in 0..1 (clamped). */
export function colourAt(t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** CSS `rgb()` of a colour. */
export const cssColour = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;
