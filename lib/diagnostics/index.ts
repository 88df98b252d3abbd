// Diagnostics: gradient flow through depth, the degradation experiment, SVG charts.
export * from './grad-flow';
export * from './degradation';
export { lineChart, niceTicks, escapeXml } from './svg';
export type { Series, ChartOptions } from './svg';
