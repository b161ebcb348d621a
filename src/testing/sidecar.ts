/**
 * A Dapr-compatible state API server on loopback: the test sidecar.
 *
 * It answers the routes a state client uses the way the real `daprd` does (status codes, error
 * bodies, headers, routing on the escaped path, query-unescape of path parameters, the API token,
 * the body limit, health and metadata), over real sockets, with the state semantics of Dapr's
 * in-memory component (`stateStore.ts`) or of its Redis component (`redisState.ts`), and the
 * differential suite holds it to real daprd. On top it records every request and injects faults
 * (`faults.ts`), so tests can assert the exact wire traffic and the client's behaviour when the
 * sidecar misbehaves. It is not a Dapr runtime: no actors, pub/sub, bindings or service invocation.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { Socket } from 'node:net'
import type { Fault, FaultHandle, FaultOptions, Route } from './faults.js'
import { faultTable } from './faults.js'
import { DAPR_VERSION } from './daprd.js'
import { goDecode, goTypeName } from './goJson.js'
import { redisStateStore } from './redisState.js'
import type { Failure, Operation, SetRequest, StateStore } from './stateStore.js'
import { checkOptions, inMemoryStateStore } from './stateStore.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

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
   * and checks, `first-write`, TTL edge cases, how values are re-encoded, the metadata reported.
   */
  readonly flavour?: 'in-memory' | 'redis' | undefined
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
  /** Closes the server and every open connection, hanging ones included. Idempotent. */
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------
// Dapr's answers
// -------------------------------------------------------------------------------------

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'

interface Answer {
  readonly status: number
  readonly body?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

const json = (status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): Answer => ({
  status,
  body: JSON.stringify(value),
  headers: { 'content-type': 'application/json', ...headers },
})

const daprError = (status: number, errorCode: string, message: string, details?: ReadonlyArray<unknown>): Answer =>
  json(status, details === undefined ? { errorCode, message } : { errorCode, message, details })

const text = (status: number, body: string): Answer => ({ status, body, headers: { 'content-type': 'text/plain; charset=utf-8' } })

const noContent: Answer = { status: 204 }

const fallback = (): Answer =>
  daprError(404, 'ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id')

const malformed = (message: string): Answer => daprError(400, 'ERR_MALFORMED_REQUEST', message)

/** An ErrorInfo detail, its fields in the order Dapr's encoder writes them. */
const errorInfo = (reason: string, metadata: Readonly<Record<string, string>> | null) => ({ '@type': ERROR_INFO, domain: 'dapr.io', metadata, reason })

/** The illegal-key error; a transaction names no field in its violation. */
const illegalKey = (store: string, key: string, field = true): Answer => {
  const message = `api error: code = InvalidArgument desc = input key/keyPrefix '${key}' can't contain '||'`
  return daprError(400, 'ERR_MALFORMED_REQUEST', message, [
    { '@type': 'type.googleapis.com/google.rpc.BadRequest', field_violations: [field ? { field: key, description: message } : { description: message }] },
    { '@type': 'type.googleapis.com/google.rpc.ResourceInfo', description: '', owner: '', resource_name: store, resource_type: 'state' },
    errorInfo('DAPR_STATE_ILLEGAL_KEY', null),
  ])
}

// -------------------------------------------------------------------------------------
// routing
// -------------------------------------------------------------------------------------

/** Go's `path.Clean` on the escaped path: `//` collapses, `.` and `..` resolve, no trailing slash. */
const cleanPath = (escaped: string): string => {
  const out: Array<string> = []
  for (const segment of escaped.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') out.pop()
    else out.push(segment)
  }
  return `/${out.join('/')}`
}

class BadEscape extends Error {}

/** Go's `url.QueryUnescape`: `%XX` decoded as UTF-8 bytes, `+` as a space. */
const queryUnescape = (segment: string): string => {
  const bytes: Array<number> = []
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string
    if (c === '%') {
      const hex = segment.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new BadEscape(segment)
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (c === '+') {
      bytes.push(0x20)
    } else {
      for (const byte of Buffer.from(c, 'utf8')) bytes.push(byte)
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

interface Matched {
  readonly route: Route
  readonly store?: string | undefined
  readonly key?: string | undefined
}

const match = (method: string, segments: ReadonlyArray<string>): Matched => {
  const [version, area, store, key, ...rest] = segments
  const isSave = method === 'POST' || method === 'PUT'
  if (version === 'v1.0' && area === 'healthz' && method === 'GET' && rest.length === 0) {
    if (store === undefined) return { route: 'healthz' }
    if (store === 'outbound' && key === undefined) return { route: 'outbound' }
  }
  if (version === 'v1.0' && area === 'metadata' && store === undefined && method === 'GET') return { route: 'metadata' }
  if (version === 'v1.0' && area === 'state' && store !== undefined && rest.length === 0) {
    if (key === undefined) return isSave ? { route: 'save', store } : { route: 'fallback' }
    if (isSave && key === 'bulk') return { route: 'bulk', store }
    if (isSave && key === 'transaction') return { route: 'transaction', store }
    if (method === 'GET') return { route: 'get', store, key }
    if (method === 'DELETE') return { route: 'delete', store, key }
  }
  return { route: 'fallback' }
}

const queryMetadata = (query: URLSearchParams): Record<string, string> => {
  const metadata: Record<string, string> = {}
  for (const [name, value] of query) {
    if (name.startsWith('metadata.') && !(name.slice(9) in metadata)) metadata[name.slice(9)] = value
  }
  return metadata
}

/** Go decodes option field names without JSON tags case-insensitively. */
const field = (object: Record<string, unknown>, name: string): unknown => {
  for (const key of Object.keys(object)) if (key.toLowerCase() === name.toLowerCase()) return object[key]
  return undefined
}

class Malformed extends Error {}

const typeName = goTypeName

/** One item of a save body, as Go's decoder would accept it into `state.SetRequest`. */
const setRequest = (raw: unknown, extra: Readonly<Record<string, string>>): SetRequest & { readonly hasKey: boolean } => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Malformed(`json: cannot unmarshal ${typeName(raw)} into Go value of type state.SetRequest`)
  }
  const item = raw as Record<string, unknown>
  const key = item['key'] ?? ''
  if (typeof key !== 'string') throw new Malformed(`json: cannot unmarshal ${typeName(key)} into Go struct field SetRequest.key of type string`)
  const etag = item['etag']
  if (etag !== undefined && etag !== null && typeof etag !== 'string') {
    throw new Malformed(`json: cannot unmarshal ${typeName(etag)} into Go struct field SetRequest.etag of type string`)
  }
  const metadata: Record<string, string> = {}
  const rawMetadata = item['metadata']
  if (rawMetadata !== undefined && rawMetadata !== null) {
    if (typeof rawMetadata !== 'object' || Array.isArray(rawMetadata)) {
      throw new Malformed(`json: cannot unmarshal ${typeName(rawMetadata)} into Go struct field SetRequest.metadata of type map[string]string`)
    }
    for (const [name, value] of Object.entries(rawMetadata)) {
      if (typeof value !== 'string') {
        throw new Malformed(`json: cannot unmarshal ${typeName(value)} into Go struct field SetRequest.metadata of type string`)
      }
      metadata[name] = value
    }
  }
  Object.assign(metadata, extra)
  const options = (item['options'] ?? {}) as Record<string, unknown>
  const concurrency = typeof options === 'object' && options !== null ? field(options, 'concurrency') : undefined
  const consistency = typeof options === 'object' && options !== null ? field(options, 'consistency') : undefined
  return {
    key,
    hasKey: key !== '',
    value: item['value'] ?? null,
    etag: typeof etag === 'string' ? etag : undefined,
    metadata,
    concurrency: typeof concurrency === 'string' ? concurrency : undefined,
    consistency: typeof consistency === 'string' ? consistency : undefined,
  }
}

/** A store error as Dapr's `state.ETagError` (or a plain error) renders it, and the status it maps to. */
/** The HTTP status each kind of store error maps to. */
const STATUS: Readonly<Record<Failure['kind'], number>> = { 'etag-mismatch': 409, 'etag-invalid': 400, failed: 500 }

interface StoreErrorText {
  readonly status: number
  readonly text: string
}

const storeError = (failure: Failure): StoreErrorText => {
  switch (failure.kind) {
    case 'etag-mismatch':
      return { status: STATUS[failure.kind], text: `possible etag mismatch. error from state store: ${failure.message}` }
    case 'etag-invalid':
      return { status: STATUS[failure.kind], text: `invalid etag value: ${failure.message}` }
    case 'failed':
      return { status: STATUS[failure.kind], text: failure.message }
  }
}

/**
 * A save of several items runs them in parallel and joins their errors; when every one is an etag
 * error, Dapr wraps the joined error in one more etag error of its own. The status is that of the
 * first etag error in it, if any.
 */
const joinedError = (failures: ReadonlyArray<Failure>): StoreErrorText => {
  const joined = failures.map((failure) => storeError(failure).text).join('\n')
  if (failures.some((failure) => failure.kind === 'failed')) {
    return { status: STATUS[failures.find((failure) => failure.kind !== 'failed')?.kind ?? 'failed'], text: joined }
  }
  return storeError({ kind: failures.some((failure) => failure.kind === 'etag-invalid') ? 'etag-invalid' : 'etag-mismatch', message: joined })
}

/** Go's JSON encoder writes an embedded raw message compacted and HTML-escaped. */
const htmlEscaped = (json: string): string =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

const rfc3339 = (epochMs: number): string => new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z')

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
  if (flavour !== 'in-memory' && flavour !== 'redis') {
    throw new RangeError(`startTestSidecar: invalid option \`flavour\`: ${JSON.stringify(flavour)} (expected 'in-memory' or 'redis')`)
  }
  const makeStore = flavour === 'redis' ? redisStateStore : inMemoryStateStore
  const stores = new Map<string, StateStore>(storeNames.map((name) => [name, makeStore({ now, appId })]))
  const requests: Array<RecordedRequest> = []
  const faults = faultTable()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let ready = true
  let closed = false

  const storeCheck = (store: string): Answer | undefined => {
    if (stores.size === 0) {
      return daprError(500, 'ERR_STATE_STORE_NOT_CONFIGURED', `state store ${store} is not configured`, [errorInfo('DAPR_STATE_NOT_CONFIGURED', { appID: appId })])
    }
    if (!stores.has(store)) {
      return daprError(400, 'ERR_STATE_STORE_NOT_FOUND', `state store ${store} is not found`, [errorInfo('DAPR_STATE_NOT_FOUND', { appID: appId })])
    }
    return undefined
  }

  const handle = (matched: Matched, query: URLSearchParams, headers: IncomingMessage['headers'], body: string): Answer => {
    switch (matched.route) {
      case 'healthz':
        return ready ? noContent : daprError(500, 'ERR_HEALTH_NOT_READY', 'dapr is not ready: [test sidecar set not ready]')
      case 'outbound':
        return ready ? noContent : daprError(500, 'ERR_OUTBOUND_HEALTH_NOT_READY', 'dapr outbound is not ready')
      case 'metadata':
        return json(200, {
          id: appId,
          runtimeVersion: `${DAPR_VERSION}-test-sidecar`,
          enabledFeatures: [],
          components: [...stores].map(([name, store]) => ({
            name,
            type: store.component.type,
            version: 'v1',
            capabilities: store.component.capabilities,
          })),
          extended: { 'dapr-state-cache': 'test sidecar' },
        })
      case 'fallback':
        return fallback()
    }
    const storeName = matched.store ?? ''
    const refused = storeCheck(storeName)
    if (refused !== undefined) return refused
    const store = stores.get(storeName) as StateStore
    const extra = queryMetadata(query)
    switch (matched.route) {
      case 'get': {
        const key = matched.key ?? ''
        if (key.includes('||')) return illegalKey(storeName, key)
        const item = store.get(key)
        if (item === undefined) return noContent
        const itemHeaders: Record<string, string> = { 'content-type': 'application/json', etag: item.etag }
        if (item.expiresAt !== undefined && store.component.reportsExpireTime) itemHeaders['metadata.ttlExpireTime'] = rfc3339(item.expiresAt)
        return { status: 200, body: item.data, headers: itemHeaders }
      }
      case 'delete': {
        const key = matched.key ?? ''
        if (key.includes('||')) return illegalKey(storeName, key)
        const ifMatch = headers['if-match']
        const invalid = checkOptions({ concurrency: query.get('concurrency') ?? undefined, consistency: query.get('consistency') ?? undefined })
        if (invalid !== undefined) return daprError(500, 'ERR_STATE_DELETE', `failed deleting state with key ${key}: ${invalid.message}`)
        const failure = store.delete(key, typeof ifMatch === 'string' && ifMatch !== '' ? ifMatch : undefined)
        if (failure === undefined) return noContent
        const { status, text } = storeError(failure)
        return daprError(status, 'ERR_STATE_DELETE', `failed deleting state with key ${key}: ${text}`)
      }
      case 'save': {
        let items: ReadonlyArray<SetRequest & { hasKey: boolean }>
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(decoded.error)
        try {
          const parsed = decoded.value ?? [] // null decodes into an empty slice
          if (!Array.isArray(parsed)) throw new Malformed(`json: cannot unmarshal ${typeName(parsed)} into Go value of type []state.SetRequest`)
          items = parsed.map((item) => setRequest(item, extra))
        } catch (error) {
          if (error instanceof Malformed) return malformed(error.message)
          throw error
        }
        if (items.length === 0) return noContent
        const keyless = items.find((item) => !item.hasKey)
        if (keyless !== undefined) return malformed('"key" is a required field')
        const illegal = items.find((item) => item.key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal.key)
        // Not atomic, as in Dapr: each item is written on its own; an etag failure anywhere wins.
        const failures = items.flatMap((item) => {
          const failure = store.set(item)
          return failure === undefined ? [] : [failure]
        })
        if (failures.length === 0) return noContent
        const { status, text } = items.length === 1 ? storeError(failures[0] as Failure) : joinedError(failures)
        return daprError(status, 'ERR_STATE_SAVE', `failed saving state in state store ${storeName}: ${text}`)
      }
      case 'bulk': {
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(`failed deserializing HTTP body: ${decoded.error}`)
        const parsed = decoded.value ?? {}
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(parsed)} into Go value of type http.BulkGetRequest`)
        }
        const rawKeys: unknown = (parsed as { keys?: unknown }).keys ?? []
        if (!Array.isArray(rawKeys)) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(rawKeys)} into Go struct field BulkGetRequest.keys of type []string`)
        }
        const wrongKey = (rawKeys as ReadonlyArray<unknown>).find((key) => typeof key !== 'string' && key !== null)
        if (wrongKey !== undefined) {
          return malformed(`failed deserializing HTTP body: json: cannot unmarshal ${typeName(wrongKey)} into Go struct field BulkGetRequest.keys of type string`)
        }
        const keys = (rawKeys as ReadonlyArray<unknown>).map((key) => (typeof key === 'string' ? key : ''))
        const illegal = keys.find((key) => key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal)
        // `data` is the stored bytes embedded as raw JSON, so it is spliced in, not re-encoded.
        const parts = keys.map((key) => {
          const item = store.get(key)
          if (item === undefined) return JSON.stringify({ key })
          const metadata =
            item.expiresAt === undefined || !store.component.reportsExpireTime ? '' : `,"metadata":${JSON.stringify({ ttlExpireTime: rfc3339(item.expiresAt) })}`
          return `{"key":${JSON.stringify(key)},"data":${htmlEscaped(item.data)},"etag":${JSON.stringify(item.etag)}${metadata}}`
        })
        return { status: 200, body: `[${parts.join(',')}]\n`, headers: { 'content-type': 'application/json' } }
      }
      case 'transaction': {
        let operations: Array<Operation>
        const decoded = goDecode(body)
        if ('error' in decoded) return malformed(`failed deserializing HTTP body: ${decoded.error}`)
        try {
          const parsed = (decoded.value ?? {}) as { operations?: unknown }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Malformed('json: cannot unmarshal into Go value of type http.stateTransactionRequestBody')
          const raw = parsed.operations ?? []
          if (!Array.isArray(raw)) throw new Malformed('json: cannot unmarshal operations')
          operations = []
          for (const entry of raw as ReadonlyArray<Record<string, unknown>>) {
            const kind = entry['operation']
            const request = (entry['request'] ?? {}) as Record<string, unknown>
            if (kind === 'upsert') {
              operations.push({ operation: 'upsert', request: setRequest(request, extra) })
            } else if (kind === 'delete') {
              const key = field(request, 'key')
              const etag = field(request, 'etag')
              operations.push({ operation: 'delete', key: typeof key === 'string' ? key : '', etag: typeof etag === 'string' && etag !== '' ? etag : undefined })
            } else {
              return daprError(400, 'ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${String(kind)} not supported`)
            }
          }
        } catch (error) {
          return malformed((error as Error).message)
        }
        if (operations.length === 0) return noContent
        const illegal = operations.map((operation) => (operation.operation === 'upsert' ? operation.request.key : operation.key)).find((key) => key.includes('||'))
        if (illegal !== undefined) return illegalKey(storeName, illegal, false)
        const failure = store.multi(operations)
        return failure === undefined ? noContent : daprError(500, 'ERR_STATE_TRANSACTION', `error while executing state transaction: ${storeError(failure).text}`)
      }
    }
  }

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
      const run = () => respond(response, recorded, handle(matched, query, request.headers, body))
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

  const port = await listen(options.port ?? 0)
  const url = `http://${host}:${port}`

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

  return {
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
    close: async () => {
      if (closed) return
      closed = true
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
    default:
      return 'ERR_INTERNAL'
  }
}
