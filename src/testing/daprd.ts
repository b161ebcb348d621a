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
import * as os from 'node:os'
import * as path from 'node:path'
import { STORE_NAME, componentYaml, pubsubYaml } from './daprd/components.js'
import { findDaprd } from './daprd/find.js'
import type { Daprd, PrivateMongo, PrivatePostgres, PrivateRedis, StartDaprdOptions } from './daprd/model.js'
import type { MongoServer } from './daprd/mongodb.js'
import { FERRETDB_VERSION, removeMongoServer, restartMongoServer, startMongoServer, stopMongoServer } from './daprd/mongodb.js'
import type { PostgresCluster } from './daprd/postgres.js'
import { initCluster, removeCluster, startPostgresProcess, stopPostgres } from './daprd/postgres.js'
import { DaprdStartError } from './daprd/model.js'
import { exited, freePort, freePorts, sleep, stop, tail, track } from './daprd/processes.js'
import { clusterNode, clusterReady, startRedisCluster, startRedisProcess } from './daprd/redis.js'

export type { Daprd, Flavour, PrivateMongo, PrivatePostgres, PrivateRedis, StartDaprdOptions } from './daprd/model.js'
export { DAPR_VERSION, DaprdStartError } from './daprd/model.js'
export { daprdCandidates } from './daprd/find.js'

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
  const pubsubs = options.pubsubs ?? ['pubsub']
  const appId = options.appId ?? 'test-app'
  const startTimeoutMs = options.startTimeoutMs ?? 30_000
  if (flavour !== 'in-memory' && flavour !== 'redis' && flavour !== 'redis-cluster' && flavour !== 'postgres' && flavour !== 'mongodb') {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`flavour\`: ${JSON.stringify(flavour)} (expected 'in-memory', 'redis', 'redis-cluster', 'postgres' or 'mongodb')`)
  }
  if (options.mongodbHost !== undefined && !(typeof options.mongodbHost === 'string' && /^[^\s:,/]+:\d+$/.test(options.mongodbHost))) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`mongodbHost\`: ${JSON.stringify(options.mongodbHost)} (expected host:port)`)
  }
  const badStore = [...stores, ...pubsubs].find((name) => !STORE_NAME.test(name))
  if (badStore !== undefined || new Set([...stores, ...pubsubs]).size !== stores.length + pubsubs.length) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`stores\`: ${JSON.stringify(stores)} (distinct names of letters, digits and -, none also a pub/sub name)`)
  }
  if (options.components !== undefined && !(Array.isArray(options.components) && options.components.every((yaml) => typeof yaml === 'string'))) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', 'startDaprd: invalid option `components`: expected an array of YAML documents (strings)')
  }
  if (options.redisHost !== undefined && !/^[^\s:,]+:\d+(,[^\s:,]+:\d+)*$/.test(options.redisHost)) {
    throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`redisHost\`: ${JSON.stringify(options.redisHost)} (expected host:port, or a comma-separated list for a cluster)`)
  }
  for (const [name, value] of [['appPort', options.appPort], ['httpPort', options.httpPort]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0 && value <= 65_535)) {
      throw new DaprdStartError('E_DAPRD_OPTIONS', `startDaprd: invalid option \`${name}\`: ${String(value)}`)
    }
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
    // A port found free may be taken before Redis binds it: then Redis says so and exits, and
    // another is tried (three times in all).
    let port = await freePort()
    for (let attempt = 1; redisChild === undefined; attempt++) {
      try {
        redisChild = await startRedisProcess(redisCommand, port, startTimeoutMs)
      } catch (error) {
        if (attempt >= 3 || !(error instanceof DaprdStartError && /address already in use/i.test(error.message))) throw error
        port = await freePort()
      }
    }
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

  let clusterNodes: Array<ChildProcess> = []
  let clusterFolder: string | undefined
  if (flavour === 'redis-cluster' && redisHost === undefined) {
    const ports = [...(await freePorts(3))]
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dapr-state-cache-redis-cluster-'))
    clusterFolder = folder
    try {
      clusterNodes = await startRedisCluster(redisCommand, ports, folder, startTimeoutMs)
    } catch (error) {
      fs.rmSync(folder, { recursive: true, force: true })
      throw error
    }
    redisHost = ports.map((port) => `127.0.0.1:${port}`).join(',')
    redis = {
      host: redisHost,
      port: ports[0] as number,
      get pid() {
        return clusterNodes[0]?.pid ?? -1
      },
      stop: async () => {
        await Promise.all(clusterNodes.map((node) => stop(node, 2000)))
      },
      // Each node again with its own config file: the cluster comes back, empty.
      start: async () => {
        if (clusterNodes.every((node) => node.exitCode === null && node.signalCode === null)) return
        clusterNodes = await Promise.all(ports.map((port) => clusterNode(redisCommand, port, folder, startTimeoutMs)))
        await clusterReady(ports, startTimeoutMs)
      },
    }
  }

  let postgresChild: ChildProcess | undefined
  let postgres: PrivatePostgres | undefined
  let cluster: PostgresCluster | undefined
  if (flavour === 'postgres' && options.postgresConnection !== undefined) {
    if (typeof options.postgresConnection !== 'string' || options.postgresConnection.trim() === '') {
      throw new DaprdStartError('E_DAPRD_OPTIONS', 'startDaprd: invalid option `postgresConnection`: expected a PostgreSQL connection string')
    }
  } else if (flavour === 'postgres') {
    cluster = initCluster()
    const port = await freePort()
    const owned = cluster
    try {
      postgresChild = await startPostgresProcess(owned, port, startTimeoutMs)
    } catch (error) {
      removeCluster(owned)
      if (redisChild !== undefined) await stop(redisChild, 2000)
      throw error
    }
    postgres = {
      host: '127.0.0.1',
      port,
      connectionString: `host=127.0.0.1 port=${port} user=postgres dbname=postgres sslmode=disable`,
      get pid() {
        return postgresChild?.pid ?? -1
      },
      stop: async () => {
        if (postgresChild !== undefined) await stopPostgres(postgresChild, 5000)
      },
      start: async () => {
        if (postgresChild !== undefined && postgresChild.exitCode === null && postgresChild.signalCode === null) return
        postgresChild = await startPostgresProcess(owned, port, startTimeoutMs)
      },
    }
  }

  let mongoServer: MongoServer | undefined
  let mongodb: PrivateMongo | undefined
  if (flavour === 'mongodb' && options.mongodbHost === undefined) {
    const [pgPort, port, debugPort] = (await freePorts(3)) as [number, number, number]
    const server = await startMongoServer([pgPort, port, debugPort], startTimeoutMs)
    mongoServer = server
    mongodb = {
      host: `127.0.0.1:${port}`,
      port,
      server: `FerretDB ${FERRETDB_VERSION} on PostgreSQL with DocumentDB`,
      postgresConnection: `host=127.0.0.1 port=${pgPort} user=postgres dbname=postgres sslmode=disable`,
      get pid() {
        return server.wire.pid ?? -1
      },
      stop: () => stopMongoServer(server),
      start: () => restartMongoServer(server, startTimeoutMs),
    }
  }
  // Made before anything that can fail below, so that cleaning up always has a folder to remove.
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dapr-state-cache-daprd-'))
  /** The component files daprd loads, in `folder`. */
  const writeComponents = (): void => {
    if (options.components === undefined) {
      for (const name of stores) {
        fs.writeFileSync(path.join(folder, `${name}.yaml`), componentYaml(name, flavour, redisHost, postgres?.connectionString ?? options.postgresConnection, mongodb?.host ?? options.mongodbHost))
      }
      for (const name of pubsubs) fs.writeFileSync(path.join(folder, `${name}.yaml`), pubsubYaml(name, flavour, redisHost))
    } else {
      options.components.forEach((yaml, index) => {
        // `- name: redisHost` then `value: ...`: the value becomes the Redis in use.
        const pointed = redisHost === undefined ? yaml : yaml.replace(/(name:\s*redisHost\s*\r?\n\s*value:\s*)("[^"\n]*"|'[^'\n]*'|[^\s#]+)/g, `$1"${redisHost}"`)
        fs.writeFileSync(path.join(folder, `component-${index}.yaml`), pointed)
      })
    }
  }

  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env['DAPR_API_TOKEN']
  delete env['APP_API_TOKEN']
  if (options.apiToken !== undefined) env['DAPR_API_TOKEN'] = options.apiToken

  const cleanUp = async (): Promise<void> => {
    if (redisChild !== undefined) await stop(redisChild, 2000)
    await Promise.all(clusterNodes.map((node) => stop(node, 2000)))
    if (clusterFolder !== undefined) fs.rmSync(clusterFolder, { recursive: true, force: true })
    if (postgresChild !== undefined) await stopPostgres(postgresChild, 5000)
    if (cluster !== undefined) removeCluster(cluster)
    if (mongoServer !== undefined) await removeMongoServer(mongoServer)
    fs.rmSync(folder, { recursive: true, force: true })
  }

  let ports: { http: number; grpc: number; internal: number; publicPort: number; profile: number }
  let child: ChildProcess
  let launched: ChildProcess | undefined
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
      ...(options.appPort === undefined ? [] : ['--app-port', String(options.appPort), '--app-channel-address', '127.0.0.1']),
      ...(options.daprdArgs ?? []),
    ]
    child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    launched = child
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

  let version: string
  try {
    writeComponents()
    // A free port can be taken between our probe and daprd's bind: try again with new ones.
    for (let attempt = 1; ; attempt++) {
      const [http = 0, grpc = 0, internal = 0, publicPort = 0, profile = 0] = await freePorts(5)
      ports = { http: options.httpPort ?? http, grpc, internal, publicPort, profile }
      try {
        await launch()
        break
      } catch (error) {
        // daprd says so in either words, depending on which of its servers could not listen.
        const inUse =
          error instanceof DaprdStartError && error.code === 'E_DAPRD_EXITED' && /address already in use|could not listen on any endpoint/.test(error.message)
        if (!inUse || attempt >= 3 || options.httpPort !== undefined) throw error
      }
    }
    version = await runtimeVersion(`http://127.0.0.1:${ports.http}`, options.apiToken)
  } catch (error) {
    // daprd itself too, when it started and what came after failed.
    if (launched !== undefined) await stop(launched, 2000)
    await cleanUp()
    throw error
  }

  const url = `http://127.0.0.1:${ports.http}`
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
    postgres,
    mongodb,
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
