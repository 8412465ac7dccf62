import { PNG } from 'pngjs';
import { colourAt, NO_DATA } from './colour-scale.js';

/** How to draw a raster. */
export interface HeatmapPngOptions {
  /** Raster shape: `values` is `rows × cols`, row by row. */
  rows: number;
  cols: number;
  /** Value range of the colour scale; values outside are clamped to its ends. */
  min: number;
  max: number;
  /** Pixels per cell. @defaultValue 1 */
  cellWidth?: number;
  cellHeight?: number;
}

/**
 * Renders a `rows × cols` raster to a PNG: each cell a `cellWidth ×
 * cellHeight` block coloured on the viridis scale between `min` and `max`,
 * cells that are NaN in light grey.
 */
export function renderHeatmapPng(values: Float64Array, options: HeatmapPngOptions): Buffer {
  const { rows, cols, min, max } = options;
  const cw = Math.max(1, Math.round(options.cellWidth ?? 1));
  const ch = Math.max(1, Math.round(options.cellHeight ?? 1));
  if (values.length !== rows * cols) throw new Error(`raster has ${values.length} values, not ${rows} × ${cols}`);
  const width = Math.max(1, cols * cw);
  const height = Math.max(1, rows * ch);
  const png = new PNG({ width, height });
  const span = max > min ? max - min : 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c]!;
      const [red, green, blue] = Number.isNaN(v) ? NO_DATA : colourAt((v - min) / span);
      // fill the cell's block of pixels
      for (let y = r * ch; y < (r + 1) * ch; y++) {
        let at = (y * width + c * cw) * 4;
        for (let x = 0; x < cw; x++, at += 4) {
          png.data[at] = red;
          png.data[at + 1] = green;
          png.data[at + 2] = blue;
          png.data[at + 3] = 255;
        }
      }
    }
  }
  // opaque RGB: a quarter smaller than RGBA
  return PNG.sync.write(png, { colorType: 2 });
}
