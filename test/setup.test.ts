/**
 * A test during which a promise rejection goes unhandled fails: Jest does this itself (it fails the
 * test in which the promise was made), and the suite counts on it, so that a background write that
 * rejects unobserved can never pass unnoticed. Proved by running Jest, with this suite's
 * configuration, on a fixture that does exactly that, in a child process.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'

it('a test that leaves a rejection unhandled fails the run', () => {
  const root = path.join(__dirname, '..')
  // The suite's configuration without its global setup: that builds the library into the folder
  // other test files are reading, and this run needs no build.
  const { globalSetup: _, ...config } = createRequire(__filename)(path.join(root, 'jest.config.js')) as Record<string, unknown>
  const fixture = { ...config, rootDir: root, roots: ['<rootDir>/test/fixtures/guard'], testMatch: ['**/*.fixture.ts'] }
  const jest = require.resolve('jest/bin/jest')
  const run = spawnSync(process.execPath, [jest, '--config', JSON.stringify(fixture), '--ci'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  expect(run.status).toBe(1)
  expect(`${run.stdout}${run.stderr}`).toMatch(/✕ leaves a promise rejection unhandled[\s\S]*nobody handles me/)
  expect(`${run.stdout}${run.stderr}`).toMatch(/Tests: +1 failed, 1 total/)
}, 60_000)
