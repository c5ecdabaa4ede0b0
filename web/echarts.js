// The part of Apache ECharts heir's UI uses, for build.mjs to bundle into
// internal/server/ui/static/vendor/echarts.js. Importing only these
// charts and components (not the whole library) halves the bundle
// (570 kB minified against 1.1 MB for dist/echarts.min.js).
//
// SVG renderer: charts stay sharp at any zoom and on wall screens, and
// their marks are DOM nodes the browser tests can count.
// Aria: ECharts writes a text description of each chart into its
// aria-label and can draw decal patterns, so colour is never the only cue.
import { use, init, getInstanceByDom } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import {
  AriaComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

use([BarChart, LineChart, AriaComponent, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, SVGRenderer]);

export { init, getInstanceByDom };
