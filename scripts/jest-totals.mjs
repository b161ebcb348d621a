// Prints `tests: N passed, N failed` from a Jest JSON report. Exits 1 when the report is missing,
// when any test failed, or when no test ran at all: a run that tests nothing is not a pass.
import { existsSync, readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.jest-results.json'
if (!existsSync(file)) {
  console.log('tests: 0 passed, 0 failed')
  console.error(`no Jest report at ${file}: Jest did not run (type-check or lint failed?)`)
  process.exit(1)
}
const report = JSON.parse(readFileSync(file, 'utf8'))
const passed = report.numPassedTests ?? 0
const failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0)
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
