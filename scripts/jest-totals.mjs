// Prints `tests: N passed, N failed` summed over one or more Jest JSON reports (one per suite:
// `npm test`, then the real-runtime suite). Exits 1 when a report is missing, when any test failed
// or was skipped, or when a suite ran no test at all: a run that tests nothing is not a pass.
import { existsSync, readFileSync } from 'node:fs'

const files = process.argv.length > 2 ? process.argv.slice(2) : ['.jest-results.json']
let passed = 0
let failed = 0
const problems = []
for (const file of files) {
  if (!existsSync(file)) {
    problems.push(`no Jest report at ${file}: that suite did not run (type-check, lint or its setup failed?)`)
    continue
  }
  const report = JSON.parse(readFileSync(file, 'utf8'))
  const suitePassed = report.numPassedTests ?? 0
  const suiteFailed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0)
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  passed += suitePassed
  failed += suiteFailed
  if (suitePassed === 0) problems.push(`${file}: no test ran`)
  if (skipped > 0) problems.push(`${file}: ${skipped} test(s) skipped`)
}
for (const problem of problems) console.error(problem)
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(failed > 0 || problems.length > 0 ? 1 : 0)
