/**
 * `startDaprd`'s refusals and failure reports, with stand-in executables (shell scripts) where a
 * daprd would be: found nowhere, exiting during start, never ready, bad options. The launcher on
 * the real runtime is tested in test/dapr/daprd.test.ts.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import path from 'node:path'
import { DAPR_VERSION, DaprdStartError, daprdCandidates, startDaprd } from '../../src/testing/index.js'

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'daprd-stand-ins-'))
afterAll(() => fs.rmSync(folder, { recursive: true, force: true }))

const script = (name: string, body: string): string => {
  const file = path.join(folder, name)
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const failure = async (start: Promise<unknown>): Promise<DaprdStartError> => {
  try {
    await start
  } catch (error) {
    if (error instanceof DaprdStartError) return error
    throw error
  }
  throw new Error('expected startDaprd to fail')
}

describe('startDaprd, when it cannot give a ready sidecar', () => {
  it('names the three places it looked when no daprd is found', async () => {
    const saved = { home: process.env['HOME'], cache: process.env['DAPR_STATE_CACHE_HOME'], path: process.env['DAPRD_PATH'] }
    const empty = fs.mkdtempSync(path.join(folder, 'home-'))
    process.env['HOME'] = empty
    process.env['DAPR_STATE_CACHE_HOME'] = empty
    delete process.env['DAPRD_PATH']
    try {
      const error = await failure(startDaprd())
      expect(error.code).toBe('E_DAPRD_NOT_FOUND')
      expect(error.message).toContain('DAPRD_PATH')
      expect(error.message).toContain(path.join(empty, '.dapr', 'bin', 'daprd'))
      expect(error.message).toContain(path.join(empty, 'daprd', `${DAPR_VERSION}-*`))
      expect(error.message).toContain('npm run dapr:build')
      expect(daprdCandidates().map((candidate) => candidate.place)).toHaveLength(3)
    } finally {
      for (const [name, value] of [['HOME', saved.home], ['DAPR_STATE_CACHE_HOME', saved.cache], ['DAPRD_PATH', saved.path]] as const) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  it('refuses a daprdPath that is not an executable file', async () => {
    const error = await failure(startDaprd({ daprdPath: path.join(folder, 'nothing-here') }))
    expect(error.code).toBe('E_DAPRD_NOT_FOUND')
    expect(error.message).toContain('nothing-here')
  })

  it('reports the last lines daprd printed when it exits during start, and removes its folder', async () => {
    const before = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('dapr-state-cache-daprd-')).length
    const daprdPath = script('exits', 'echo "level=info msg=starting"\necho "level=fatal msg=component cache failed" >&2\nexit 3')
    const error = await failure(startDaprd({ daprdPath }))
    expect(error.code).toBe('E_DAPRD_EXITED')
    expect(error.message).toContain('exited with 3')
    expect(error.message).toContain('level=fatal msg=component cache failed')
    expect(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('dapr-state-cache-daprd-')).length).toBe(before)
  })

  it('gives up when daprd is not ready in time, and stops it', async () => {
    const pidFile = path.join(folder, 'hangs.pid')
    const daprdPath = script('hangs', `echo $$ > ${pidFile}\necho "still starting"\nexec sleep 30`)
    const error = await failure(startDaprd({ daprdPath, startTimeoutMs: 400 }))
    expect(error.code).toBe('E_DAPRD_NOT_READY')
    expect(error.message).toContain('still starting')
    expect(alive(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(false)
  })

  it('says when redis-server cannot be run', async () => {
    const daprdPath = script('unused', 'exit 0')
    const error = await failure(startDaprd({ flavour: 'redis', daprdPath, redisServerPath: path.join(folder, 'no-redis-server') }))
    expect(error.code).toBe('E_REDIS_START')
    expect(error.message).toContain('redisHost')
  })

  it('says how to get FerretDB when the mongodb flavour cannot find it', async () => {
    const saved = { FERRETDB_PATH: process.env['FERRETDB_PATH'], DAPR_STATE_CACHE_HOME: process.env['DAPR_STATE_CACHE_HOME'], PATH: process.env['PATH'] }
    process.env['FERRETDB_PATH'] = path.join(folder, 'no-ferretdb')
    process.env['DAPR_STATE_CACHE_HOME'] = folder
    process.env['PATH'] = folder
    try {
      const error = await failure(startDaprd({ flavour: 'mongodb', daprdPath: script('unused-mongo', 'exit 0') }))
      expect(error.code).toBe('E_MONGODB_START')
      expect(error.message).toContain('npm run mongodb:build')
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  it.each([
    [{ flavour: 'cosmosdb' as 'redis' }, /flavour/],
    [{ flavour: 'mongodb' as const, mongodbHost: 'no-port' }, /mongodbHost/],
    [{ stores: ['ok', 'not ok'] }, /stores/],
    [{ stores: ['twice', 'twice'] }, /stores/],
    [{ redisHost: 'no-port' }, /redisHost/],
    [{ startTimeoutMs: 0 }, /startTimeoutMs/],
  ])('refuses bad options before starting anything: %p', async (options, message) => {
    const error = await failure(startDaprd({ daprdPath: script('never', 'exit 1'), ...options }))
    expect(error.code).toBe('E_DAPRD_OPTIONS')
    expect(error.message).toMatch(message)
  })

  it('pins the Dapr release tools/daprd builds', () => {
    const goMod = fs.readFileSync(path.join(__dirname, '..', '..', 'tools', 'daprd', 'go.mod'), 'utf8')
    expect(goMod).toMatch(new RegExp(`github\\.com/dapr/dapr v${DAPR_VERSION.replace(/\./g, '\\.')}\\s`))
  })
})
