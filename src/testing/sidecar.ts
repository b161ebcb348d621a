/**
 * A Dapr-compatible state API server on loopback: the test sidecar.
 *
 * It answers the routes a state client uses the way the real `daprd` does (status codes, error
 * bodies, headers, routing on the escaped path, query-unescape of path parameters, the API token,
 * the body limit, health and metadata), over real sockets, with the state semantics of Dapr's
 * in-memory component (`stateStore.ts`), its Redis component on one Redis or on a cluster
 * (`redisState.ts`), its PostgreSQL component (`postgresState.ts`) or its MongoDB component
 * (`mongoState.ts`), and the differential suite
 * holds each flavour to real daprd on that component. On top it records every request and injects faults
 * (`faults.ts`), so tests can assert the exact wire traffic and the client's behaviour when the
 * sidecar misbehaves. Its pub/sub (`pubsubs`, default one component named `pubsub`) is an in-memory
 * bus, delivered to the app on `appPort` as daprd delivers (`sidecar/pubsub.ts`), and shared with
 * the sidecars of the same app's other replicas (`replicaOf`). It is not a Dapr runtime: no actors,
 * bindings or service invocation.
 */
import { isIPv6 } from 'node:net'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import type { Fault, FaultHandle, FaultOptions, Route } from './faults.js'
import { faultTable } from './faults.js'
import { mongoStateStore } from './mongoState.js'
import { postgresStateStore } from './postgresState.js'
import { redisClusterStateStore, redisStateStore } from './redisState.js'
import type { StateStore, StateStoreOptions } from './stateStore.js'
import { inMemoryStateStore } from './stateStore.js'
import type { Answer } from './sidecar/answers.js'
import { daprError, errorInfo, text } from './sidecar/answers.js'
import { endpoints } from './sidecar/endpoints.js'
import type { MemoryBus } from './sidecar/pubsub.js'
import { cloudEvent, memoryBus, subscribeApp } from './sidecar/pubsub.js'
import type { Matched } from './sidecar/routing.js'
import { BadEscape, cleanPath, match, queryUnescape } from './sidecar/routing.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The Dapr state components the test sidecar can stand in for.
 *
 * @category model
 * @since 0.5.0
 */
export type SidecarFlavour = 'in-memory' | 'redis' | 'redis-cluster' | 'postgres' | 'mongodb'

const STORES: Readonly<Record<SidecarFlavour, (options: StateStoreOptions) => StateStore>> = {
  'in-memory': inMemoryStateStore,
  redis: redisStateStore,
  'redis-cluster': redisClusterStateStore,
  postgres: postgresStateStore,
  mongodb: mongoStateStore,
}

/** Every flavour's name, for the command line. */
export const SIDECAR_FLAVOURS = Object.keys(STORES) as ReadonlyArray<SidecarFlavour>

/**
 * @category model
 * @since 0.1.0
 */
export interface TestSidecarOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number | undefined
  /** Loopback address to bind (default `127.0.0.1`). */
  readonly host?: string | undefined
  /** The app id reported by `/v1.0/metadata` (default `"test-app"`). */
  readonly appId?: string | undefined
  /** State store names (default `["cache"]`; `[]`: no state store configured at all). */
  readonly stores?: ReadonlyArray<string> | undefined
  /** When set, every call but the health probes needs this `dapr-api-token`. */
  readonly apiToken?: string | undefined
  /** Largest request body, in bytes (default 4 MiB, as `daprd`). */
  readonly maxBodyBytes?: number | undefined
  /**
   * The Dapr state component whose semantics every store has (default `'in-memory'`): etag format
   * and checks, `first-write`, TTL edge cases, how values are re-encoded, bulk gets, transactions,
   * the metadata reported. `'redis-cluster'` is `state.redis` on a Redis Cluster (a transaction
   * over keys of several hash slots is refused); `'postgres'` is `state.postgresql` version 2;
   * `'mongodb'` is `state.mongodb` as it answers on FerretDB (`startDaprd`'s MongoDB-compatible server).
   */
  readonly flavour?: SidecarFlavour | undefined
  /** Pub/sub component names (default `["pubsub"]`): an in-memory bus. */
  readonly pubsubs?: ReadonlyArray<string> | undefined
  /**
   * The app's port, as daprd's `--app-port`: the sidecar asks it for `GET /dapr/subscribe` (until
   * it answers) and delivers the topics it subscribed to. Unset: nothing is delivered.
   */
  readonly appPort?: number | undefined
  /** The app's address (default `127.0.0.1`). */
  readonly appHost?: string | undefined
  /**
   * Another replica's sidecar: this one shares its state stores and its pub/sub bus, as the
   * sidecars of one app's replicas share one Redis. Its `stores`, `pubsubs` and `flavour` are used.
   */
  readonly replicaOf?: TestSidecar | undefined
  /** Time source for TTLs, in epoch milliseconds (default `Date.now`). */
  readonly clock?: {
    /** The time now, in epoch milliseconds. */
    readonly now: () => number
  } | undefined
}

/**
 * One request as the sidecar received it.
 *
 * @category model
 * @since 0.1.0
 */
export interface RecordedRequest {
  readonly method: string
  /** The raw request target, escaped, with its query. */
  readonly path: string
  readonly route: Route
  readonly store?: string | undefined
  /** The decoded key, for routes that have one. */
  readonly key?: string | undefined
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
  /** The status answered; 0 when none was (a reset or a hang). */
  status: number
}

/**
 * Direct access to one store's state, for assertions and seeding.
 *
 * @category model
 * @since 0.1.0
 */
export interface StoreState {
  /** The stored bytes (a JSON text, as Dapr stores them), or undefined. */
  readonly get: (key: string) => string | undefined
  /** Stores raw JSON bytes as they would be after a save (`"\"abc\""` for the string abc). */
  readonly set: (key: string, json: string, ttlSeconds?: number) => void
  /** Every live entry: the key and its stored JSON text. */
  readonly entries: () => ReadonlyArray<readonly [string, string]>
  /** Drops every entry of this store. */
  readonly clear: () => void
}

/**
 * @category model
 * @since 0.1.0
 */
export interface TestSidecar {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** Every request received, oldest first. */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Forgets the requests recorded so far. */
  readonly clearRequests: () => void
  /** Direct access to one store's state (throws for a store the sidecar does not have). */
  readonly state: (store: string) => StoreState
  /** Health probes answer 204 when ready, 500 when not. */
  readonly setReady: (ready: boolean) => void
  /** Injects a fault on matching requests until removed (or `times` requests). */
  readonly fault: (options: FaultOptions) => FaultHandle
  /** Removes every fault. */
  readonly clearFaults: () => void
  /** Stops accepting connections (new ones are refused) until `acceptConnections`. */
  readonly refuseConnections: () => Promise<void>
  /** Accepts connections again, on the same port. */
  readonly acceptConnections: () => Promise<void>
  /**
  * Whether published messages are delivered to this sidecar's app (default true): false drops
  * them, as a bus that is away. Publishing still answers; inject a `publish` fault to refuse it.
  */
  readonly setDeliveries: (on: boolean) => void
  /** Delivers to the app on this port from now on (as `appPort`, for an app that starts after its sidecar). */
  readonly connectApp: (appPort: number, appHost?: string) => void
  /** Asks the app for its subscriptions again, as a daprd that restarted does. */
  readonly resubscribe: () => void
  /** Closes the server and every open connection, hanging ones included. Idempotent. */
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

const MIB = 1024 * 1024

/**
 * Starts a Dapr-compatible state API server on loopback.
 *
 * @category constructors
 * @since 0.1.0
 */
export const startTestSidecar = async (options: TestSidecarOptions = {}): Promise<TestSidecar> => {
  const host = options.host ?? '127.0.0.1'
  const appId = options.appId ?? 'test-app'
  const storeNames = options.stores ?? ['cache']
  const maxBodyBytes = options.maxBodyBytes ?? 4 * MIB
  const now = options.clock?.now ?? (() => Date.now())
  for (const [name, value] of [['port', options.port ?? 0], ['maxBodyBytes', maxBodyBytes]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`startTestSidecar: invalid option \`${name}\`: ${String(value)}`)
  }
  const flavour = options.flavour ?? 'in-memory'
  const makeStore = STORES[flavour]
  if (!Object.hasOwn(STORES, flavour)) {
    throw new RangeError(`startTestSidecar: invalid option \`flavour\`: ${JSON.stringify(flavour)} (expected ${Object.keys(STORES).map((name) => `'${name}'`).join(', ')})`)
  }
  const shared = options.replicaOf === undefined ? undefined : (options.replicaOf as Partial<Shared>)[SHARED]
  if (options.replicaOf !== undefined && shared === undefined) throw new RangeError('startTestSidecar: invalid option `replicaOf`: not a test sidecar')
  const stores = shared?.stores ?? new Map<string, StateStore>(storeNames.map((name) => [name, makeStore({ now, appId })]))
  const pubsubs = shared?.pubsubs ?? options.pubsubs ?? ['pubsub']
  const bus = shared?.bus ?? memoryBus()
  let deliveries = true
  const requests: Array<RecordedRequest> = []
  const faults = faultTable()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let ready = true
  let closed = false

  // As daprd lists them (startDaprd pairs PostgreSQL with the in-memory pub/sub): the in-memory
  // component reports a capability, Redis Streams none.
  const pubsubComponents = pubsubs.map((name) =>
    flavour === 'redis' || flavour === 'redis-cluster'
      ? { name, type: 'pubsub.redis', version: 'v1' }
      : { name, type: 'pubsub.in-memory', version: 'v1', capabilities: ['SUBSCRIBE_WILDCARDS'] },
  )
  const handle = endpoints(appId, stores, () => ready, pubsubComponents)

  const respond = (response: ServerResponse, recorded: RecordedRequest, answer: Answer): void => {
    recorded.status = answer.status
    response.writeHead(answer.status, { ...(answer.body === undefined ? {} : { 'content-length': Buffer.byteLength(answer.body) }), ...(answer.headers ?? {}) })
    response.end(answer.body)
  }

  const injected = (fault: Fault, matched: Matched, request: IncomingMessage, response: ServerResponse, recorded: RecordedRequest, run: () => void): void => {
    switch (fault.kind) {
      case 'reset':
        request.socket.destroy()
        return
      case 'hang':
        return // the socket stays open until the client gives up or the sidecar closes
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!response.destroyed) run()
        }, fault.delayMs ?? 0)
        timers.add(timer)
        return
      }
      case 'status': {
        const status = fault.status ?? 500
        const code = fault.errorCode ?? defaultErrorCode(matched.route)
        const message = fault.message ?? `fail to ${matched.route} ${matched.key ?? ''} from state store ${matched.store ?? ''}: injected fault`.replace('  ', ' ')
        respond(response, recorded, daprError(status, code, message))
        return
      }
      case 'garbage':
        respond(response, recorded, { status: 200, body: fault.body ?? '{"not": "what you asked for"', headers: { 'content-type': 'application/json' } })
        return
    }
  }

  const server: Server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      // Dapr reads at most the limit and decodes what it read, so a longer body arrives cut short.
      const room = maxBodyBytes - (size - chunk.length)
      if (room > 0) chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room))
    })
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const target = request.url ?? '/'
      const queryAt = target.indexOf('?')
      const escapedPath = queryAt === -1 ? target : target.slice(0, queryAt)
      const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1))
      const method = request.method ?? 'GET'
      const headers: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value
      let matched: Matched
      let badEscape = false
      try {
        const segments = cleanPath(escapedPath).split('/').slice(1).filter((segment) => segment !== '')
        const routed = match(method, segments)
        // Path parameters are decoded after routing, so an encoded "/" stays inside its segment.
        matched = {
          route: routed.route,
          store: routed.store === undefined ? undefined : queryUnescape(routed.store),
          key: routed.key === undefined ? undefined : queryUnescape(routed.key),
        }
      } catch (error) {
        if (!(error instanceof BadEscape)) throw error
        matched = { route: 'fallback' }
        badEscape = true
      }
      const recorded: RecordedRequest = { method, path: target, route: matched.route, store: matched.store, key: matched.key, headers, body, status: 0 }
      requests.push(recorded)
      if (badEscape) return respond(response, recorded, text(400, '400 Bad Request'))
      const exempt = method === 'GET' && (matched.route === 'healthz' || matched.route === 'outbound')
      if (options.apiToken !== undefined && !exempt && request.headers['dapr-api-token'] !== options.apiToken) {
        return respond(response, recorded, text(401, 'invalid api token\n'))
      }
      const run = () => respond(response, recorded, matched.route === 'publish' ? publish(matched, request.headers, body) : handle(matched, query, request.headers, body))
      const fault = faults.take(matched)
      if (fault === undefined) run()
      else injected(fault, matched, request, response, recorded, run)
    })
  })
  server.keepAliveTimeout = 30_000
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : port)
      })
    })

  const publish = (matched: Matched, headers: IncomingMessage['headers'], body: string): Answer => {
    const pubsub = matched.store ?? ''
    if (!pubsubs.includes(pubsub)) return daprError(404, 'ERR_PUBSUB_NOT_FOUND', `pubsub ${pubsub} is not found`, [errorInfo('DAPR_PUBSUB_NOT_FOUND', {})])
    const topic = matched.key ?? ''
    bus.publish(pubsub, topic, cloudEvent(appId, pubsub, topic, headers['content-type'] ?? 'text/plain', body))
    return { status: 204 }
  }
  let app: ReturnType<typeof subscribeApp> | undefined
  const connectApp = (appPort: number, appHost = '127.0.0.1'): void => {
    if (!Number.isInteger(appPort) || appPort <= 0 || appPort > 65_535) throw new RangeError(`startTestSidecar: invalid app port: ${String(appPort)}`)
    app?.stop()
    app = subscribeApp(bus, appHost, appPort, pubsubs, () => deliveries && server.listening)
  }
  if (options.appPort !== undefined) connectApp(options.appPort, options.appHost)

  const port = await listen(options.port ?? 0)
  const url = `http://${isIPv6(host) ? `[${host}]` : host}:${port}`

  const state = (name: string): StoreState => {
    const store = stores.get(name)
    if (store === undefined) throw new RangeError(`the test sidecar has no state store named ${JSON.stringify(name)} (it has: ${[...stores.keys()].join(', ')})`)
    return {
      get: (key) => store.get(key)?.data,
      set: (key, data, ttlSeconds) => store.seed(key, data, ttlSeconds),
      entries: () => store.entries().map(([key, item]) => [key, item.data] as const),
      clear: store.clear,
    }
  }

  const sidecar: TestSidecar & Shared = {
    [SHARED]: { stores, pubsubs, bus },
    url,
    port,
    requests,
    clearRequests: () => {
      requests.length = 0
    },
    state,
    setReady: (value) => {
      ready = value
    },
    fault: faults.add,
    clearFaults: faults.clear,
    refuseConnections: async () => {
      if (!server.listening) return
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Keep-alive connections would keep the old listener's close pending; drop them.
        for (const socket of sockets) socket.destroy()
      })
    },
    acceptConnections: async () => {
      if (server.listening || closed) return
      await listen(port)
    },
    setDeliveries: (on) => {
      deliveries = on
    },
    resubscribe: () => app?.resubscribe(),
    connectApp,
    close: async () => {
      if (closed) return
      closed = true
      app?.stop()
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      await new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve()
        } else {
          server.close(() => resolve())
        }
        for (const socket of sockets) socket.destroy()
      })
    },
  }
  return sidecar
}

/** What a replica's sidecar shares with the first (`replicaOf`). */
const SHARED = Symbol('test sidecar shares')
interface Shared {
  readonly [SHARED]: { readonly stores: Map<string, StateStore>; readonly pubsubs: ReadonlyArray<string>; readonly bus: MemoryBus }
}

const defaultErrorCode = (route: Route): string => {
  switch (route) {
    case 'get':
      return 'ERR_STATE_GET'
    case 'save':
      return 'ERR_STATE_SAVE'
    case 'delete':
      return 'ERR_STATE_DELETE'
    case 'bulk':
      return 'ERR_STATE_BULK_GET'
    case 'transaction':
      return 'ERR_STATE_TRANSACTION'
    case 'publish':
      return 'ERR_PUBSUB_PUBLISH_MESSAGE'
    default:
      return 'ERR_INTERNAL'
  }
}
