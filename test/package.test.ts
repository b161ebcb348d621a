/**
 * The published shape: both builds load in Node itself (not only in bundlers), through the
 * package's own `exports` map, and `internal/` stays private. Builds `dist/` once for the file.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

const root = path.join(__dirname, '..')
const node = (args: ReadonlyArray<string>): string =>
  execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

const program = `
  const names = ['cacheable', 'cache', 'withKey', 'withTtl', 'withDedup', 'withMetrics', 'orElseUncached',
    'memoryStore', 'InMemoryMetrics', 'CacheError', 'CacheConnectionError', 'CacheSerializationError', 'CacheKeyError']
  const missing = names.filter((name) => typeof lib[name] !== 'function')
  if (missing.length > 0) throw new Error('missing exports: ' + missing.join(', '))
  let calls = 0
  const square = lib.cacheable({ store: lib.memoryStore() })(function square(n) { calls++; return n * n })
  Promise.all([square(3), square(3)]).then(async (values) => {
    await square(3)
    console.log(JSON.stringify({ values, calls, sidecar: typeof testing.startTestSidecar }))
  })
`

describe('package', () => {
  beforeAll(() => {
    node(['scripts/build.mjs'])
  }, 120_000)

  it('emits both builds with their module type and declarations', () => {
    for (const file of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/testing/index.js']) {
      expect(existsSync(path.join(root, file))).toBe(true)
    }
    expect(node(['-p', "require('./dist/esm/package.json').type + ' ' + require('./dist/cjs/package.json').type"]).trim()).toBe(
      'module commonjs',
    )
  })

  it('loads with require (CommonJS)', () => {
    const out = node(['-e', `const lib = require('dapr-state-cache'); const testing = require('dapr-state-cache/testing'); ${program}`])
    expect(JSON.parse(out)).toEqual({ values: [9, 9], calls: 1, sidecar: 'function' })
  })

  it('loads with import (ES modules)', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import * as lib from 'dapr-state-cache'; import * as testing from 'dapr-state-cache/testing'; ${program}`,
    ])
    expect(JSON.parse(out)).toEqual({ values: [9, 9], calls: 1, sidecar: 'function' })
  })

  it('keeps internal modules private', () => {
    expect(() => node(['-e', "require('dapr-state-cache/internal/engine')"])).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })
})

describe('dapr-state-cache-sidecar', () => {
  it('starts the test sidecar as a command, answers, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['dist/cjs/testing/cli.js', '--port', '0', '--store', 'cache', '--store', 'other'], { cwd: root })
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const found = /listening on (http:\/\/\S+)/.exec(chunk.toString())
        if (found?.[1] !== undefined) resolve(found[1])
      })
      child.once('exit', (code) => reject(new Error(`exited early with ${String(code)}`)))
    })
    const response = await fetch(`${url}/v1.0/metadata`)
    const metadata = (await response.json()) as { components: Array<{ name: string }> }
    expect(metadata.components.map((component) => component.name)).toEqual(['cache', 'other', 'pubsub'])
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it('takes its token from DAPR_API_TOKEN, and warns when it listens beyond loopback', async () => {
    const child = spawn(process.execPath, ['dist/cjs/testing/cli.js', '--port', '0', '--host', '0.0.0.0'], {
      cwd: root,
      env: { ...process.env, DAPR_API_TOKEN: 'from-env' },
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    let errors = ''
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const found = /listening on (http:\/\/\S+)/.exec(chunk.toString())
          if (found?.[1] !== undefined) resolve(found[1])
        })
        child.once('exit', (code) => reject(new Error(`exited early with ${String(code)}`)))
      })
      const port = new URL(url).port
      expect((await fetch(`http://127.0.0.1:${port}/v1.0/metadata`)).status).toBe(401)
      expect((await fetch(`http://127.0.0.1:${port}/v1.0/metadata`, { headers: { 'dapr-api-token': 'from-env' } })).status).toBe(200)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
    expect(errors).toMatch(/0\.0\.0\.0 is not a loopback address/)
    expect(errors).not.toContain('from-env')
  })

  it('refuses a bad option with usage and exit code 2', () => {
    expect(() => node(['dist/cjs/testing/cli.js', '--port', 'x'])).toThrow(/--port must be a port number/)
  })

  it('passes @arethetypeswrong/cli (node10 included) and publint on the packed tarball', () => {
    const out = node(['scripts/check-package.mjs'])
    expect(out).toContain('"dapr-state-cache/testing"')
    expect(out).not.toMatch(/Resolution failed|💀|❌/)
    expect(out).toContain('All good!')
  }, 120_000)
})
