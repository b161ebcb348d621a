// Draws the charts of docs/benchmarks.md from the figures `npm run bench` wrote: hit and miss time
// against value size, ours against the floor (section 16). Reads bench/results.json when it has the
// section, else docs/benchmarks/value-size.json (the committed figures), and writes
// docs/benchmarks/value-size.svg (and the figures beside it). Vega-Lite, rendered to SVG by Vega.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import * as vega from 'vega'
import * as vl from 'vega-lite'

const committed = 'docs/benchmarks/value-size.json'
const fresh = existsSync('bench/results.json') ? JSON.parse(readFileSync('bench/results.json', 'utf8')) : undefined
// The figures of the last `npm run bench` that ran section 16, dated by that run; else the committed ones, untouched.
const figures =
  fresh?.valueSize !== undefined
    ? { when: statSync('bench/results.json').mtime.toISOString().slice(0, 10), machine: fresh.machine, section: 16, rows: fresh.valueSize }
    : JSON.parse(readFileSync(committed, 'utf8'))
if (fresh?.valueSize !== undefined) writeFileSync(committed, `${JSON.stringify(figures, null, 2)}\n`)

const series = figures.rows.flatMap((row) => [
  { size: row.size, ms: row.floorHit, call: 'hit', client: 'floor (undici)' },
  { size: row.size, ms: row.oursHit, call: 'hit', client: 'dapr-state-cache' },
  { size: row.size, ms: row.floorMiss, call: 'miss', client: 'floor (undici)' },
  { size: row.size, ms: row.oursMiss, call: 'miss', client: 'dapr-state-cache' },
])

const spec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: 560,
  height: 280,
  title: { text: 'Hit and miss time against value size, real daprd on Redis (one caller, p50)', subtitle: 'solid lines: hits; dashed lines: misses (read, compute, save)', anchor: 'start' },
  data: { values: series },
  mark: { type: 'line', point: true, strokeWidth: 2 },
  encoding: {
    x: { field: 'size', type: 'quantitative', scale: { type: 'log' }, title: 'value size (bytes, log scale)', axis: { format: '~s' } },
    y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'p50 (ms, log scale)' },
    color: { field: 'client', type: 'nominal', title: null, scale: { range: ['#1f77b4', '#7f7f7f'] } },
    strokeDash: { field: 'call', type: 'nominal', scale: { domain: ['hit', 'miss'], range: [[1, 0], [6, 4]] }, legend: null },
    shape: { field: 'call', type: 'nominal', title: 'solid: hit, dashed: miss', scale: { domain: ['hit', 'miss'], range: ['circle', 'square'] } },
  },
  config: { font: 'sans-serif', view: { stroke: null } },
}

const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' })
writeFileSync('docs/benchmarks/value-size.svg', `${await view.toSVG()}\n`)
view.finalize()
console.log('wrote docs/benchmarks/value-size.svg')
