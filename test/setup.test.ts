/**
 * The suite's own guard (test/setup.ts): a test during which a promise rejection goes unhandled
 * fails. Proved by running Jest on a fixture that does exactly that, in a child process.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'

it('a test that leaves a rejection unhandled fails the run', () => {
  const root = path.join(__dirname, '..')
  const jest = require.resolve('jest/bin/jest')
  const run = spawnSync(
    process.execPath,
    [jest, '--rootDir', root, '--roots', '<rootDir>/test/fixtures/guard', '--testMatch', '**/*.fixture.ts', '--ci'],
    { cwd: root, encoding: 'utf8', timeout: 60_000 },
  )
  expect(run.status).toBe(1)
  expect(`${run.stdout}${run.stderr}`).toMatch(/✕ leaves a promise rejection unhandled[\s\S]*nobody handles me/)
}, 60_000)
