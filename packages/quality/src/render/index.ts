export { type Axis, categoryTicks, dayTicks, hourTicks, type Tick } from './axes.js';
export { colourAt, NO_DATA, type Rgb, VIRIDIS } from './colour-scale.js';
export { escapeHtml } from './escape.js';
export { availabilitySvg, channelHeatmapSvg, completenessSvg, middaySvg, quantityLabel } from './figures.js';
export { FLAG_DESCRIPTIONS } from './flag-legend.js';
export { type HeatmapPngOptions, renderHeatmapPng } from './heatmap-png.js';
export { formatValue, type HeatmapSvgOptions, type LineOverlay, renderHeatmapSvg } from './heatmap-svg.js';
export {
  type ChartSize,
  loadCharts,
  type MiddayChartOptions,
  releaseCharts,
  renderChartSvg,
  renderMiddayChart,
} from './line-chart.js';
export { INDEX_PAGE, renderIndexPage, renderSystemPage, systemPageName } from './pages.js';
