// Draws the charts of docs/service.md from a report of `npm run example:chaos` (default
// docs/service/chaos-report.json) with Vega-Lite, rendered to SVG by Vega in Node: throughput, p99,
// the share of calls the cache answered, and the source's reads, per second, cached against
// uncached, with the fault windows shaded. `node scripts/service-charts.mjs [report.json] [out dir]`.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import * as vega from 'vega'
import * as vl from 'vega-lite'

const reportPath = process.argv[2] ?? 'docs/service/chaos-report.json'
const outDir = process.argv[3] ?? path.dirname(reportPath)
const report = JSON.parse(readFileSync(reportPath, 'utf8'))

const series = report.runs.flatMap((run) => run.timeline.map((second) => ({ ...second, app: run.cached ? 'cached' : 'uncached', hitPercent: second.hitRatio * 100 })))
const cachedRun = report.runs.find((run) => run.cached)
const faults = (cachedRun?.faults ?? []).map((fault) => ({
  kind: fault.kind,
  from: (fault.from - cachedRun.startedAt) / 1000,
  to: (fault.to - cachedRun.startedAt) / 1000,
}))

const chart = (field, title, axis, apps = ['cached', 'uncached']) => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: 640,
  height: 220,
  title: { text: title, anchor: 'start' },
  layer: [
    {
      data: { values: faults },
      mark: { type: 'rect', opacity: 0.15, color: '#d62728' },
      encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
    },
    {
      data: { values: faults },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#8c1c1c' },
      encoding: { x: { field: 'from', type: 'quantitative' }, y: { value: 0 }, text: { field: 'kind' } },
    },
    {
      data: { values: series.filter((point) => apps.includes(point.app)) },
      mark: { type: 'line', point: false, strokeWidth: 2 },
      encoding: {
        x: { field: 't', type: 'quantitative', title: `seconds of load (${report.sidecars === 'daprd' ? 'real daprd on Redis' : 'test sidecars'}, ${report.connections} connections)` },
        y: { field, type: 'quantitative', title: axis },
        color: { field: 'app', type: 'nominal', title: null, scale: { domain: apps, range: apps.map((app) => (app === 'cached' ? '#1f77b4' : '#7f7f7f')) } },
      },
    },
  ],
  config: { font: 'sans-serif', view: { stroke: null } },
})

const charts = [
  ['service-throughput.svg', chart('requests', 'Answers per second, across the faults', 'requests per second')],
  ['service-p99.svg', chart('p99Ms', 'p99 latency per second', 'p99 (ms)')],
  ['service-hit-ratio.svg', chart('hitPercent', 'Calls the cache answered (hits over all calls, including those run uncached)', '% of calls', ['cached'])],
  ['service-source-reads.svg', chart('sourceReads', 'Reads of the slow source per second', 'source reads per second')],
]

for (const [file, spec] of charts) {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' })
  writeFileSync(path.join(outDir, file), `${await view.toSVG()}\n`)
  view.finalize()
  console.log(`wrote ${path.join(outDir, file)}`)
}
