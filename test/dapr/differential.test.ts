/**
 * The test sidecar held to the real runtime on every component CI can run (the cases are in
 * `differential.ts`; MongoDB's run is in `mongodb.test.ts`). With DIFFERENTIAL_REPORT=path set, the
 * run also writes the table docs/testing.md carries.
 */
import { writeFileSync } from 'node:fs'
import type { Flavour, Outcome } from './differential.js'
import { describeDifferential } from './differential.js'

const FLAVOURS: ReadonlyArray<Flavour> = ['in-memory', 'redis', 'redis-cluster', 'postgres']
const NAMES: Readonly<Record<Flavour, string>> = { 'in-memory': 'in-memory', redis: 'Redis', 'redis-cluster': 'Redis Cluster', postgres: 'PostgreSQL', mongodb: 'MongoDB' }

const report: Array<Outcome> = []
describeDifferential(FLAVOURS, report)

afterAll(() => {
  const file = process.env['DIFFERENTIAL_REPORT']
  if (file === undefined || file === '') return
  const byCase = new Map<string, { item: string; title: string; cells: Partial<Record<Flavour, string>> }>()
  for (const row of report) {
    const entry = byCase.get(row.title) ?? { item: row.item, title: row.title, cells: {} }
    entry.cells[row.flavour] = `${row.same ? 'same' : 'DIFFERENT'} (${row.steps} requests)`
    byCase.set(row.title, entry)
  }
  const lines = [`| item | what is compared | ${FLAVOURS.map((flavour) => `${NAMES[flavour]}: daprd vs sidecar`).join(' | ')} |`, `|---|---|${FLAVOURS.map(() => '---|').join('')}`]
  for (const entry of byCase.values()) lines.push(`| ${entry.item} | ${entry.title} | ${FLAVOURS.map((flavour) => entry.cells[flavour] ?? '-').join(' | ')} |`)
  writeFileSync(file, `${lines.join('\n')}\n`)
})
