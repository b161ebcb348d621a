/**
 * `startDaprd`: the real Dapr runtime on loopback, for integration tests. The twin of
 * `startTestSidecar`, with real `daprd` and, for the `'redis'` flavour, a real Redis.
 *
 * It writes the component files to a temporary folder, gives every listener daprd opens a free
 * loopback port, starts a private `redis-server` when asked for Redis without an address, waits
 * until the sidecar answers `GET /v1.0/healthz/outbound`, and stops everything it started on
 * `close()` (and, as a last resort, when the process exits). It does not build daprd (that is
 * `npm run dapr:build`) and it does not start an app, placement or scheduler: state only.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { createServer, Socket } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The Dapr release `npm run dapr:build` builds (kept equal to `tools/daprd/go.mod` by a test).
 *
 * @category model
 * @since 0.2.0
 */
export const DAPR_VERSION = '1.18.3'

/**
 * Which Dapr state component backs the stores: `state.in-memory` or `state.redis`.
 *
 * @category model
 * @since 0.2.0
 */
export type Flavour = 'in-memory' | 'redis'

/**
 * @category model
 * @since 0.2.0
 */
export interface StartDaprdOptions {
  /** The state component of every store (default `'in-memory'`). */
  readonly flavour?: Flavour | undefined
  /** `host:port` of a Redis to use; absent with `'redis'`: a private `redis-server` is started. */
  readonly redisHost?: string | undefined
  /** The daprd binary (default: `DAPRD_PATH`, then `~/.dapr/bin/daprd`, then `npm run dapr:build`'s). */
  readonly daprdPath?: string | undefined
  /** When set, daprd requires this `dapr-api-token` on every call but the health probes. */
  readonly apiToken?: string | undefined
  /** The app id (default `"test-app"`). */
  readonly appId?: string | undefined
  /** State store names (default `["cache"]`). */
  readonly stores?: ReadonlyArray<string> | undefined
  /** How long to wait for the sidecar to be ready (default 30 s). */
  readonly startTimeoutMs?: number | undefined
  /** The `redis-server` command for a private Redis (default: `redis-server` on `PATH`). */
  readonly redisServerPath?: string | undefined
  /** Extra command-line flags for daprd, for example `['--max-body-size', '8Mi']`. */
  readonly daprdArgs?: ReadonlyArray<string> | undefined
}

/**
 * A private Redis that `startDaprd` started (absent when `redisHost` was given).
 *
 * @category model
 * @since 0.2.0
 */
export interface PrivateRedis {
  /** `127.0.0.1:PORT` */
  readonly host: string
  readonly port: number
  readonly pid: number
  /** Stops it (SIGSTOP-free: it exits), for fault tests; `start()` brings it back on the same port, empty. */
  readonly stop: () => Promise<void>
  /** Starts it again after `stop()`, empty (no persistence), on the same port. */
  readonly start: () => Promise<void>
}

/**
 * @category model
 * @since 0.2.0
 */
export interface Daprd {
  /** `http://127.0.0.1:PORT`, the Dapr HTTP API. */
  readonly url: string
  readonly httpPort: number
  readonly grpcPort: number
  readonly pid: number
  /** The runtime version `/v1.0/metadata` reports. */
  readonly version: string
  readonly flavour: Flavour
  /** The temporary folder holding the component files daprd loaded; removed by `close()`. */
  readonly resourcesPath: string
  readonly redis?: PrivateRedis | undefined
  /** Kills daprd at once (SIGKILL), for fault tests; `restart()` starts it again on the same ports. */
  readonly kill: () => Promise<void>
  /** Starts daprd again, on the same ports, after `kill()`. */
  readonly restart: () => Promise<void>
  /** Stops daprd and its private Redis, and removes the component folder. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * Why `startDaprd` could not give a ready sidecar. `code` is stable:
 * `E_DAPRD_NOT_FOUND`, `E_DAPRD_EXITED`, `E_DAPRD_NOT_READY`, `E_REDIS_START`, `E_DAPRD_OPTIONS`.
 *
 * @category model
 * @since 0.2.0
 */
export class DaprdStartError extends Error {
  override readonly name = 'DaprdStartError'
  constructor(
    readonly code: 'E_DAPRD_NOT_FOUND' | 'E_DAPRD_EXITED' | 'E_DAPRD_NOT_READY' | 'E_REDIS_START' | 'E_DAPRD_OPTIONS',
    message: string,
  ) {
    super(message)
  }
}

// -------------------------------------------------------------------------------------
// finding daprd
// -------------------------------------------------------------------------------------

const home = (env: NodeJS.ProcessEnv): string => env['HOME'] || os.homedir()

const cacheRoot = (env: NodeJS.ProcessEnv): string =>
  env['DAPR_STATE_CACHE_HOME'] || path.join(env['XDG_CACHE_HOME'] || path.join(home(env), '.cache'), 'dapr-state-cache')

/** The newest binary `npm run dapr:build` made for the pinned release, if any. */
const builtDaprd = (env: NodeJS.ProcessEnv): string | undefined => {
  const dir = path.join(cacheRoot(env), 'daprd')
  let candidates: Array<{ file: string; mtime: number }>
  try {
    candidates = fs
      .readdirSync(dir)
      .filter((name) => name.startsWith(`${DAPR_VERSION}-`))
      .map((name) => path.join(dir, name, 'daprd'))
      .filter((file) => fs.existsSync(file))
      .map((file) => ({ file, mtime: fs.statSync(file).mtimeMs }))
  } catch {
    return undefined
  }
  candidates.sort((a, b) => b.mtime - a.mtime)
  return candidates[0]?.file
}

/**
 * Where `startDaprd` looks for daprd, in order, and what it finds there.
 *
 * @category utils
 * @since 0.2.0
 */
export const daprdCandidates = (env: NodeJS.ProcessEnv = process.env): ReadonlyArray<{ readonly place: string; readonly path: string | undefined }> => [
  { place: 'the DAPRD_PATH environment variable', path: env['DAPRD_PATH'] || undefined },
  { place: '~/.dapr/bin/daprd (dapr init)', path: path.join(home(env), '.dapr', 'bin', 'daprd') },
  { place: `the npm run dapr:build cache (${path.join(cacheRoot(env), 'daprd', `${DAPR_VERSION}-*`)})`, path: builtDaprd(env) },
]

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const findDaprd = (explicit: string | undefined): string => {
  if (explicit !== undefined) {
    if (isExecutable(explicit)) return explicit
    throw new DaprdStartError('E_DAPRD_NOT_FOUND', `startDaprd: daprdPath ${JSON.stringify(explicit)} is not an executable file`)
  }
  const candidates = daprdCandidates()
  const found = candidates.find((candidate) => candidate.path !== undefined && isExecutable(candidate.path))
  if (found?.path !== undefined) return found.path
  const looked = candidates.map((candidate) => `  - ${candidate.place}${candidate.path === undefined ? '' : `: ${candidate.path}`}`).join('\n')
  throw new DaprdStartError(
    'E_DAPRD_NOT_FOUND',
    `startDaprd: no daprd binary found. Looked in:\n${looked}\nRun \`npm run dapr:build\` in a clone of dapr-state-cache, or \`dapr init\`, or set DAPRD_PATH.`,
  )
}

// -------------------------------------------------------------------------------------
// processes
// -------------------------------------------------------------------------------------

/** Children still running, killed if the process exits without closing them. */
const running = new Set<ChildProcess>()
let exitHookInstalled = false
const track = (child: ChildProcess): void => {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const orphan of running) orphan.kill('SIGKILL')
    })
  }
  running.add(child)
  child.once('exit', () => running.delete(child))
}

/** A loopback port that was free a moment ago, and the listener that holds it until `release`. */
const holdPort = (): Promise<{ readonly port: number; readonly release: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      resolve({ port, release: () => new Promise((done) => server.close(() => done())) })
    })
  })

/**
 * `count` free loopback ports, all different: each is held until all are found (a port released at
 * once can be handed out again by the next probe, and daprd cannot listen twice on one port).
 */
const freePorts = async (count: number): Promise<ReadonlyArray<number>> => {
  const held = []
  try {
    for (let i = 0; i < count; i++) held.push(await holdPort())
    return held.map(({ port }) => port)
  } finally {
    await Promise.all(held.map(({ release }) => release()))
  }
}

const freePort = async (): Promise<number> => (await freePorts(1))[0] as number

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The last lines a child printed, for error messages. */
const tail = (child: ChildProcess, limit = 40): (() => string) => {
  const lines: Array<string> = []
  const take = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      lines.push(line)
      if (lines.length > limit) lines.shift()
    }
  }
  child.stdout?.on('data', take)
  child.stderr?.on('data', take)
  return () => lines.join('\n')
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
const stop = async (child: ChildProcess, graceMs: number): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited(child)
  clearTimeout(timer)
}

/** Resolves when `redis-server` answers PING on the port. */
const redisAnswers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = new Socket()
    const done = (answer: boolean): void => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
  })

const startRedisProcess = async (command: string, port: number, timeoutMs: number): Promise<ChildProcess> => {
  // No persistence, loopback only, nothing written to disk.
  const child = spawn(command, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', os.tmpdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  const printed = tail(child)
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)])
    if (failed !== undefined) throw new DaprdStartError('E_REDIS_START', `startDaprd: could not run ${command}: ${failed.message} (install Debian's redis-server, or pass redisHost)`)
    if (child.exitCode !== null) throw new DaprdStartError('E_REDIS_START', `startDaprd: ${command} exited with code ${child.exitCode} during start:\n${printed()}`)
    if (await redisAnswers(port)) return child
  }
  await stop(child, 1000)
  throw new DaprdStartError('E_REDIS_START', `startDaprd: ${command} did not answer PING on port ${port} within ${timeoutMs} ms:\n${printed()}`)
}

// -------------------------------------------------------------------------------------
// components
// -------------------------------------------------------------------------------------

const componentYaml = (name: string, flavour: Flavour, redisHost: string | undefined): string => {
  const metadata: ReadonlyArray<readonly [string, string]> =
    flavour === 'redis'
      ? [
          ['redisHost', redisHost ?? ''],
          ['redisPassword', ''],
          // Fail fast when Redis is away, so the sidecar answers before a client's deadline.
          ['dialTimeout', '1s'],
          ['readTimeout', '2s'],
          ['writeTimeout', '2s'],
          ['maxRetries', '0'],
        ]
      : []
  const lines = ['apiVersion: dapr.io/v1alpha1', 'kind: Component', 'metadata:', `  name: ${name}`, 'spec:', `  type: state.${flavour}`, '  version: v1']
  if (metadata.length === 0) lines.push('  metadata: []')
  else lines.push('  metadata:', ...metadata.map(([key, value]) => `  - name: ${key}\n    value: ${JSON.stringify(value)}`))
  return `${lines.join('\n')}\n`
}

const STORE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Starts the real Dapr runtime on loopback with the state stores asked for, and a private Redis
 * for the `'redis'` flavour unless `redisHost` is given. Resolves when the sidecar is ready.
 *
 * @example
 * import { startDaprd } from 'dapr-state-cache/testing'
 *
 * const daprd = await startDaprd({ flavour: 'redis' })
 * // ... daprStore({ endpoint: daprd.url }) ...
 * await daprd.close()
 *
 * @category constructors
 * @since 0.2.0
 */
export const startDaprd = async (options: StartDaprdOptions = {}): Promise<Daprd> => {
  const flavour = options.flavour ?? 'in-memory'
  const stores = options.stores ?? ['cache']
  const appId = options.appId ?? 'test-app'
  const startTimeoutMs = options.startTimeoutMs ?? 30_000
  if (flavour !== 'in-memory' && flavour !== 'redis') {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`flavour\`: ${JSON.stringify(flavour)} (expected 'in-memory' or 'redis')`)
  }
  const badStore = stores.find((name) => !STORE_NAME.test(name))
  if (badStore !== undefined || new Set(stores).size !== stores.length) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`stores\`: ${JSON.stringify(stores)} (distinct names of letters, digits and -)`)
  }
  if (options.redisHost !== undefined && !/^[^\s:]+:\d+$/.test(options.redisHost)) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`redisHost\`: ${JSON.stringify(options.redisHost)} (expected host:port)`)
  }
  if (!Number.isSafeInteger(startTimeoutMs) || startTimeoutMs <= 0) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`startTimeoutMs\`: ${String(startTimeoutMs)}`)
  }
  const binary = findDaprd(options.daprdPath)

  let redisChild: ChildProcess | undefined
  let redis: PrivateRedis | undefined
  const redisCommand = options.redisServerPath ?? 'redis-server'
  let redisHost = options.redisHost
  if (flavour === 'redis' && redisHost === undefined) {
    const port = await freePort()
    redisChild = await startRedisProcess(redisCommand, port, startTimeoutMs)
    redisHost = `127.0.0.1:${port}`
    redis = {
      host: redisHost,
      port,
      get pid() {
        return redisChild?.pid ?? -1
      },
      stop: async () => {
        if (redisChild !== undefined) await stop(redisChild, 2000)
      },
      start: async () => {
        if (redisChild !== undefined && redisChild.exitCode === null && redisChild.signalCode === null) return
        redisChild = await startRedisProcess(redisCommand, port, startTimeoutMs)
      },
    }
  }

  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dapr-state-cache-daprd-'))
  for (const name of stores) fs.writeFileSync(path.join(folder, `${name}.yaml`), componentYaml(name, flavour, redisHost))

  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env['DAPR_API_TOKEN']
  delete env['APP_API_TOKEN']
  if (options.apiToken !== undefined) env['DAPR_API_TOKEN'] = options.apiToken

  const cleanUp = async (): Promise<void> => {
    if (redisChild !== undefined) await stop(redisChild, 2000)
    fs.rmSync(folder, { recursive: true, force: true })
  }

  let ports: { http: number; grpc: number; internal: number; publicPort: number; profile: number }
  let child: ChildProcess
  let printed: () => string
  const launch = async (): Promise<void> => {
    const args = [
      '--app-id', appId,
      '--mode', 'standalone',
      '--resources-path', folder,
      '--dapr-listen-addresses', '127.0.0.1',
      '--dapr-http-port', String(ports.http),
      '--dapr-grpc-port', String(ports.grpc),
      '--dapr-internal-grpc-listen-address', '127.0.0.1',
      '--dapr-internal-grpc-port', String(ports.internal),
      '--dapr-public-listen-address', '127.0.0.1',
      '--dapr-public-port', String(ports.publicPort),
      '--profile-port', String(ports.profile),
      '--enable-metrics=false',
      '--metrics-listen-address', '127.0.0.1',
      '--dapr-graceful-shutdown-seconds', '1',
      '--log-level', 'info',
      ...(options.daprdArgs ?? []),
    ]
    child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    track(child)
    printed = tail(child)
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
    const deadline = Date.now() + startTimeoutMs
    for (;;) {
      const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)])
      if (failed !== undefined) throw new DaprdStartError('E_DAPRD_EXITED', `startDaprd: could not run ${binary}: ${failed.message}`)
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new DaprdStartError('E_DAPRD_EXITED', `startDaprd: daprd (${binary}) exited with ${child.exitCode ?? child.signalCode} during start. Its last lines:\n${printed()}`)
      }
      if (await outboundReady(ports.http)) return
      if (Date.now() > deadline) {
        await stop(child, 2000)
        throw new DaprdStartError('E_DAPRD_NOT_READY', `startDaprd: daprd (${binary}) was not ready within ${startTimeoutMs} ms. Its last lines:\n${printed()}`)
      }
    }
  }

  try {
    // A free port can be taken between our probe and daprd's bind: try again with new ones.
    for (let attempt = 1; ; attempt++) {
      const [http = 0, grpc = 0, internal = 0, publicPort = 0, profile = 0] = await freePorts(5)
      ports = { http, grpc, internal, publicPort, profile }
      try {
        await launch()
        break
      } catch (error) {
        // daprd says so in either words, depending on which of its servers could not listen.
        const inUse =
          error instanceof DaprdStartError && error.code === 'E_DAPRD_EXITED' && /address already in use|could not listen on any endpoint/.test(error.message)
        if (!inUse || attempt >= 3) throw error
      }
    }
  } catch (error) {
    await cleanUp()
    throw error
  }

  const url = `http://127.0.0.1:${ports.http}`
  const version = await runtimeVersion(url, options.apiToken)
  let closed = false
  return {
    url,
    httpPort: ports.http,
    grpcPort: ports.grpc,
    get pid() {
      return child.pid ?? -1
    },
    version,
    flavour,
    resourcesPath: folder,
    redis,
    kill: async () => {
      child.kill('SIGKILL')
      await exited(child)
    },
    restart: async () => {
      if (closed) throw new Error('startDaprd: restart after close')
      await stop(child, 2000)
      await launch()
    },
    close: async () => {
      if (closed) return
      closed = true
      await stop(child, 5000)
      await cleanUp()
    },
  }
}

const outboundReady = async (port: number): Promise<boolean> => {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/v1.0/healthz/outbound`, { signal: AbortSignal.timeout(1000) })
    await response.arrayBuffer()
    return response.status === 204
  } catch {
    return false
  }
}

const runtimeVersion = async (url: string, apiToken: string | undefined): Promise<string> => {
  const response = await fetch(`${url}/v1.0/metadata`, {
    headers: apiToken === undefined ? {} : { 'dapr-api-token': apiToken },
    signal: AbortSignal.timeout(5000),
  })
  const metadata = (await response.json()) as { runtimeVersion?: unknown }
  return typeof metadata.runtimeVersion === 'string' ? metadata.runtimeVersion : 'unknown'
}
