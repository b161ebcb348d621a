/**
 * The `Store` that talks to a Dapr sidecar's state API over HTTP, with undici.
 *
 * The wire format is the Python library's, so both can share one cache: a value is sent as the
 * base64 of its bytes inside a JSON string (Dapr's HTTP state API has no raw-binary path and stores
 * what it receives as JSON), `ttlInSeconds` goes as a string, and keys are percent-encoded in paths.
 * Every response becomes a typed result: 200 is bytes, 204 is a miss, any other status a
 * `StoreRejected` carrying Dapr's `errorCode`; refused or reset connections are `ConnectionError`s,
 * and every request has its own deadline (`TimeoutError`), because the sidecar has none. No answer
 * is read past its bound: a value past `maxValueBytes` (`ValueTooLarge`), anything else past 1 MiB.
 * For leases, `create` is a `first-write` save, and `supportsCreate` asks `/v1.0/metadata` once
 * whether the component has ETag support.
 *
 * Stores that use the same sidecar address share one keep-alive connection pool; it is closed when
 * the last of them is. This module does not retry, and does not decide what a failure means for the
 * call: that is the engine's business (see `orElseUncached`).
 *
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { Dispatcher } from 'undici'
import { Pool } from 'undici'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import { toError } from '../errors.js'
import type { BreakerOptions, BreakerStore } from './Breaker.js'
import { trust } from '../internal/guardedStore.js'
import { withBreaker } from './Breaker.js'
import type { Store, StoreEntry } from '../Store.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface DaprStoreOptions {
  /** The state store component's name (default `"cache"`). */
  readonly storeName?: string | undefined
  /** The sidecar's HTTP address. Default: `DAPR_HTTP_ENDPOINT`, else `http://{DAPR_HTTP_HOST | DAPR_RUNTIME_HOST | 127.0.0.1}:{DAPR_HTTP_PORT | 3500}`. */
  readonly daprUrl?: string | undefined
  /** Sent as `dapr-api-token` on every call. Default: `DAPR_API_TOKEN`. */
  readonly apiToken?: string | undefined
  /** The deadline of each request, in milliseconds (default 5,000, as in the Python library). */
  readonly timeoutMs?: number | undefined
  /** The deadline of reads (default `timeoutMs`): a cache read is worth waiting for only while it beats computing. */
  readonly readTimeoutMs?: number | undefined
  /** The deadline of writes and deletes (default `timeoutMs`). */
  readonly writeTimeoutMs?: number | undefined
  /** The circuit breaker (on by default: 5 failures in a row open it for 5 s); `false` turns it off. */
  readonly breaker?: BreakerOptions | false | undefined
  /** Keep-alive connections to the sidecar (default 16). */
  readonly connections?: number | undefined
  /** Requests larger than this are not sent (default 4 MiB, the sidecar's own default limit). */
  readonly maxBodyBytes?: number | undefined
  /**
   * The largest value read or written, in bytes (default 3 MiB: the largest value whose save request,
   * base64 in JSON, fits the sidecar's default 4 MiB body limit, so nothing larger can have been
   * written through it). A read stops as soon as the answer is known to be larger (announced length,
   * or bytes received), and its connection is not reused; a larger value is not sent. Both are an
   * `E_CACHE_VALUE_TOO_LARGE` error: the call runs uncached.
   */
  readonly maxValueBytes?: number | undefined
  /** Where the defaults are read from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * @category model
 * @since 0.1.0
 */
export interface DaprStore extends Store {
  /** The circuit breaker's state; always `closed` when it is turned off. */
  readonly breaker: BreakerStore['breaker']
  /** The sidecar address in use (no token in it). */
  readonly url: string
  readonly storeName: string
  /** One probe of `GET /v1.0/healthz/outbound`: true when the sidecar answers 204. Never rejects. */
  readonly isReady: () => Promise<boolean>
  /**
   * Polls the readiness probe until it passes; rejects with a `CacheConnectionError` after
   * `timeoutMs` (default 60 s, as the Dapr SDKs). Cache calls never wait for it.
   */
  readonly waitUntilReady: (options?: { readonly timeoutMs?: number; readonly intervalMs?: number }) => Promise<void>
  /** Releases this store's hold on the shared pool; the pool closes with its last store. */
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

const fail = (error: CacheError): never => {
  throw toError(error)
}

const positiveInteger = (option: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  return Number.isSafeInteger(value) && value > 0 ? value : fail(CE.invalidOptions(option, value, 'a positive integer'))
}

/** The sidecar's origin, from the option or the environment, checked. */
export const resolveDaprUrl = (explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): string => {
  const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim())
  const [option, raw] =
    nonEmpty(explicit) !== undefined
      ? ['daprUrl', nonEmpty(explicit) as string]
      : nonEmpty(env['DAPR_HTTP_ENDPOINT']) !== undefined
        ? ['DAPR_HTTP_ENDPOINT', nonEmpty(env['DAPR_HTTP_ENDPOINT']) as string]
        : [
            'DAPR_HTTP_HOST/DAPR_HTTP_PORT',
            `http://${nonEmpty(env['DAPR_HTTP_HOST']) ?? nonEmpty(env['DAPR_RUNTIME_HOST']) ?? '127.0.0.1'}:${nonEmpty(env['DAPR_HTTP_PORT']) ?? '3500'}`,
          ]
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return fail(CE.invalidOptions(option, raw, 'an http(s) URL such as http://127.0.0.1:3500'))
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(CE.invalidOptions(option, raw, 'an http: or https: URL'))
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    fail(CE.invalidOptions(option, raw, 'a bare origin (scheme, host and port; no path, query or credentials)'))
  }
  return url.origin
}

// -------------------------------------------------------------------------------------
// shared pools
// -------------------------------------------------------------------------------------

interface SharedPool {
  readonly pool: Pool
  users: number
}

// One pool per sidecar address and size, shared by the stores using it. Empty until a store is made.
const pools = new Map<string, SharedPool>()

const acquire = (origin: string, connections: number, connectTimeoutMs: number): { pool: Pool; release: () => Promise<void> } => {
  const id = `${origin}#${connections}`
  let shared = pools.get(id)
  if (shared === undefined || shared.pool.closed || shared.pool.destroyed) {
    shared = {
      pool: new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: connectTimeoutMs } }),
      users: 0,
    }
    pools.set(id, shared)
  }
  shared.users++
  const mine = shared
  let released = false
  return {
    pool: mine.pool,
    release: async () => {
      if (released) return
      released = true
      mine.users--
      if (mine.users === 0) {
        if (pools.get(id) === mine) pools.delete(id)
        await mine.pool.close()
      }
    },
  }
}

// -------------------------------------------------------------------------------------
// wire format
// -------------------------------------------------------------------------------------

/** A cheap first look; the decoded length is the real check. */
const isBase64 = (text: string): boolean => text.length % 4 === 0 && !text.slice(0, -2).includes('=')

/** The request body Dapr expects for a save: the value as a base64 JSON string, the TTL as a string. */
export const saveBody = (key: string, value: Uint8Array, ttlSeconds: number, firstWrite = false): string =>
  saveItems([{ key, value, ttlSeconds }], firstWrite)

/** The body of a save of several entries: one item each, as `saveBody` writes one. */
export const saveItems = (entries: ReadonlyArray<StoreEntry>, firstWrite = false): string =>
  JSON.stringify(
    entries.map(({ key, value, ttlSeconds }) => ({
      key,
      value: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
      ...(firstWrite ? { options: { concurrency: 'first-write' } } : {}),
      metadata: { ttlInSeconds: String(ttlSeconds) },
    })),
  )

const MIB = 1024 * 1024

/** How much of an answer is read, and what an answer over that is. */
interface AnswerLimit {
  readonly bytes: number
  readonly error: (knownBytes: number, status: number, key: string | undefined) => CacheError
}

/** Any other answer (204, a Dapr error, metadata) is small: over 1 MiB it is not read. */
const otherAnswers: AnswerLimit = {
  bytes: MIB,
  error: (known, status, key) => CE.storeRejected(status, `the sidecar answered with more than ${MIB} bytes (${known} known); not read`, { key }),
}

/**
 * Whether a refused `first-write` save means "an entry is there": 409 (the in-memory component and
 * most others), or Redis's 500 ERR_STATE_SAVE from its set script (a first-write record is there).
 */
export const isFirstWriteConflict = (status: number, body: string): boolean => {
  if (status === 409) return true
  if (status !== 500) return false
  try {
    const parsed = JSON.parse(body) as { errorCode?: unknown; message?: unknown }
    return parsed.errorCode === 'ERR_STATE_SAVE' && typeof parsed.message === 'string' && /failed to set key .*user_script/.test(parsed.message)
  } catch {
    return false
  }
}

/** The bytes inside a 200 body: a JSON string holding base64. Anything else is a serialization error. */
export const parseValue = (body: string, key: string): E.Either<CacheError, Uint8Array> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch (cause) {
    return E.left(CE.serializationError('deserialize', `the sidecar answered 200 with a body that is not JSON (${body.length} bytes)`, { key, cause }))
  }
  return decodeValue(parsed, key)
}

/** The bytes of a stored value as the sidecar hands it back (a JSON string holding base64). */
const decodeValue = (parsed: unknown, key: string): E.Either<CacheError, Uint8Array> => {
  if (typeof parsed !== 'string' || !isBase64(parsed)) {
    return E.left(
      CE.serializationError('deserialize', `the stored value is not a base64 string; it was written by something other than a dapr-state-cache client`, { key }),
    )
  }
  const decoded = Buffer.from(parsed, 'base64')
  // Node's decoder skips what is not base64, so a text with anything else in it decodes short.
  const padding = parsed.endsWith('==') ? 2 : parsed.endsWith('=') ? 1 : 0
  if (decoded.byteLength !== (parsed.length / 4) * 3 - padding) {
    return E.left(
      CE.serializationError('deserialize', `the stored value is not a base64 string; it was written by something other than a dapr-state-cache client`, { key }),
    )
  }
  return E.right(new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength))
}

/** A non-2xx answer as a `StoreRejected`, with Dapr's `errorCode` and message when the body is its JSON. */
export const rejection = (status: number, body: string, key: string | undefined): CacheError => {
  let errorCode: string | undefined
  let message = body.trim()
  try {
    const parsed = JSON.parse(body) as { errorCode?: unknown; message?: unknown }
    if (typeof parsed.errorCode === 'string') errorCode = parsed.errorCode
    if (typeof parsed.message === 'string') message = parsed.message
  } catch {
    // Not JSON: a 401's "invalid api token", or a proxy's page. Keep the text.
  }
  const what = status === 401 ? 'the sidecar refused the API token (401)' : `the sidecar answered ${status}`
  const detail = message === '' ? '' : `: ${message.length > 300 ? `${message.slice(0, 297)}...` : message}`
  return CE.storeRejected(status, `${what}${errorCode === undefined ? '' : ` ${errorCode}`}${detail}`, { key, errorCode })
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

const failure = (cause: unknown, timedOut: boolean, timeoutMs: number, key: string | undefined, origin: string): CacheError => {
  const code = (cause as { code?: unknown } | null | undefined)?.code
  if (timedOut || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
    return CE.timeoutError(timeoutMs, `the sidecar at ${origin} did not answer within ${timeoutMs} ms`, { key, cause })
  }
  const reason = typeof code === 'string' && CONNECTION_CODES.has(code) ? code : cause instanceof Error ? cause.message : String(cause)
  return CE.connectionError(`cannot reach the sidecar at ${origin}: ${reason}`, { key, cause })
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------


/**
 * One path segment: percent-encoded, and `.` or `..` with their dots escaped too, since the sidecar
 * cleans the path (resolving `..`) before it decodes the segments.
 */
export const pathSegment = (value: string): string =>
  value === '.' || value === '..' ? value.replace(/\./g, '%2E') : encodeURIComponent(value)

/**
 * A store in the Dapr state store `storeName`, through the sidecar's HTTP API. Options are checked
 * here, and a bad one throws a `CacheOptionsError` naming it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const daprStore = (options: DaprStoreOptions = {}): DaprStore => {
  const env = options.env ?? process.env
  const storeName = options.storeName ?? 'cache'
  if (typeof storeName !== 'string' || storeName === '' || storeName.includes('||')) {
    fail(CE.invalidOptions('storeName', storeName, 'a non-empty store name without "||"'))
  }
  const origin = resolveDaprUrl(options.daprUrl, env)
  const apiToken = options.apiToken ?? (env['DAPR_API_TOKEN'] === '' ? undefined : env['DAPR_API_TOKEN'])
  if (apiToken !== undefined && (typeof apiToken !== 'string' || /[\r\n]/.test(apiToken))) {
    fail(CE.invalidOptions('apiToken', '(hidden)', 'a string without line breaks'))
  }
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 5_000)
  const readTimeoutMs = positiveInteger('readTimeoutMs', options.readTimeoutMs, timeoutMs)
  const writeTimeoutMs = positiveInteger('writeTimeoutMs', options.writeTimeoutMs, timeoutMs)
  const connections = positiveInteger('connections', options.connections, 16)
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes, 4 * MIB)
  const maxValueBytes = positiveInteger('maxValueBytes', options.maxValueBytes, 3 * MIB)
  /** A value read: at most the base64 of `maxValueBytes`, in quotes; more is a value too large. */
  const valueAnswers: AnswerLimit = {
    bytes: 2 + 4 * Math.ceil(maxValueBytes / 3),
    error: (known, _status, key) => CE.valueTooLarge('read', Math.floor(((known - 2) * 3) / 4), maxValueBytes, { key }),
  }
  const { pool, release } = acquire(origin, connections, Math.max(readTimeoutMs, writeTimeoutMs))

  const statePath = `/v1.0/state/${pathSegment(storeName)}`
  const keyPath = (key: string) => `${statePath}/${pathSegment(key)}`
  const headers: Record<string, string> = apiToken === undefined ? {} : { 'dapr-api-token': apiToken }
  const jsonHeaders: Record<string, string> = { ...headers, 'content-type': 'application/json' }

  /**
   * One request with its own deadline (connect, send, answer and body together). It goes through
   * undici's dispatcher with a handler that gathers the body itself: no stream, no AbortController
   * per request, one timer. It never rejects.
   */
  const send = (
    request: Pick<Dispatcher.DispatchOptions, 'method' | 'path' | 'headers' | 'body'>,
    key: string | undefined,
    timeoutMs: number,
    limit: AnswerLimit = otherAnswers,
  ): Promise<E.Either<CacheError, { status: number; body: string }>> =>
    new Promise((resolve) => {
      let status = 0
      let received = 0
      const chunks: Array<Buffer> = []
      /** Stops an answer over the limit: the connection is closed, not reused. */
      const tooLarge = (known: number, stop: Dispatcher.DispatchController): void => {
        // Settled first: aborting reports an error to this same handler, at once.
        settle(E.left(limit.error(known, status, key)))
        stop.abort(new Error(`answer over ${limit.bytes} bytes`))
      }
      let controller: Dispatcher.DispatchController | undefined
      let timedOut = false
      let settled = false
      const settle = (result: E.Either<CacheError, { status: number; body: string }>): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(result)
      }
      const timer = setTimeout(() => {
        timedOut = true
        controller?.abort(new Error(`no answer within ${timeoutMs} ms`))
        settle(E.left(failure(undefined, true, timeoutMs, key, origin)))
      }, timeoutMs)
      try {
        pool.dispatch(request, {
          onRequestStart: (started) => {
            controller = started
            if (timedOut) started.abort(new Error(`no answer within ${timeoutMs} ms`))
          },
          onResponseStart: (started, statusCode, responseHeaders) => {
            status = statusCode
            const announced = Number(responseHeaders['content-length'] ?? Number.NaN)
            if (announced > limit.bytes) tooLarge(announced, started)
          },
          onResponseData: (receiving, chunk) => {
            received += chunk.length
            if (received > limit.bytes) return tooLarge(received, receiving)
            chunks.push(chunk)
          },
          onResponseEnd: () => {
            settle(E.right({ status, body: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') }))
          },
          onResponseError: (_controller, cause) => {
            settle(E.left(failure(cause, timedOut, timeoutMs, key, origin)))
          },
        })
      } catch (cause) {
        settle(E.left(failure(cause, false, timeoutMs, key, origin)))
      }
    })

  const checkKey = (key: string): E.Either<CacheError, string> =>
    key === ''
      ? E.left(CE.keyError('an empty key cannot be stored in Dapr'))
      : key.includes('||')
        ? E.left(CE.keyError(`the key ${JSON.stringify(key)} contains "||", which Dapr reserves`, { key }))
        : E.right(key)

  const get = (key: string): TE.TaskEither<CacheError, O.Option<Uint8Array>> => async () => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked
    const answered = await send({ method: 'GET', path: keyPath(key), headers }, key, readTimeoutMs, valueAnswers)
    if (E.isLeft(answered)) return answered
    const { status, body } = answered.right
    if (status === 204) return E.right(O.none)
    if (status !== 200) return E.left(rejection(status, body, key))
    if (body === '') return E.left(CE.serializationError('deserialize', 'the sidecar answered 200 with an empty body', { key }))
    const value = parseValue(body, key)
    return E.isLeft(value) ? value : E.right(O.some(value.right))
  }

  /** A save; with `firstWrite`, only if no entry is there. Gives the status and body answered. */
  const save = async (
    key: string,
    value: Uint8Array,
    ttlSeconds: number,
    firstWrite: boolean,
  ): Promise<E.Either<CacheError, { status: number; body: string }>> => {
    const refused = unsendable({ key, value, ttlSeconds })
    if (refused !== undefined) return E.left(refused)
    const body = saveBody(key, value, ttlSeconds, firstWrite)
    const size = Buffer.byteLength(body)
    if (size > maxBodyBytes) {
      return E.left(
        CE.storeRejected(413, `not sent: the save request would be ${size} bytes, over the sidecar's limit of ${maxBodyBytes}`, { key }),
      )
    }
    return send({ method: 'POST', path: statePath, headers: jsonHeaders, body }, key, writeTimeoutMs)
  }

  /** Why an entry cannot be saved, before anything is sent; undefined when it can. */
  const unsendable = ({ key, value, ttlSeconds }: StoreEntry): CacheError | undefined => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked.left
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) return CE.invalidOptions('ttlSeconds', ttlSeconds, 'a positive integer')
    if (value.byteLength > maxValueBytes) return CE.valueTooLarge('write', value.byteLength, maxValueBytes, { key })
    return undefined
  }

  /** Several entries in one save request (Dapr hands them to the component's bulk set: not atomic). */
  const setMany = (entries: ReadonlyArray<StoreEntry>): TE.TaskEither<CacheError, void> => async () => {
    const [first] = entries
    if (first === undefined) return E.right(undefined)
    for (const entry of entries) {
      const refused = unsendable(entry)
      if (refused !== undefined) return E.left(refused)
    }
    const body = saveItems(entries)
    const size = Buffer.byteLength(body)
    if (size > maxBodyBytes) {
      return E.left(CE.storeRejected(413, `not sent: the save request would be ${size} bytes, over the sidecar's limit of ${maxBodyBytes}`, { key: first.key }))
    }
    const answered = await send({ method: 'POST', path: statePath, headers: jsonHeaders, body }, first.key, writeTimeoutMs)
    if (E.isLeft(answered)) return answered
    const { status, body: answer } = answered.right
    return status >= 200 && status < 300 ? E.right(undefined) : E.left(rejection(status, answer, first.key))
  }

  /** Several keys in one bulk get; each answer in the order asked, a missing key as none. */
  const getMany =
    (keys: ReadonlyArray<string>): TE.TaskEither<CacheError, ReadonlyArray<E.Either<CacheError, O.Option<Uint8Array>>>> =>
    async () => {
      const [first] = keys
      if (first === undefined) return E.right([])
      for (const key of keys) {
        const checked = checkKey(key)
        if (E.isLeft(checked)) return checked
      }
      const limit: AnswerLimit = { bytes: keys.length * (valueAnswers.bytes + 1024), error: (known, status, key) => valueAnswers.error(known, status, key) }
      const request = { method: 'POST' as const, path: `${statePath}/bulk`, headers: jsonHeaders, body: JSON.stringify({ keys, parallelism: keys.length }) }
      const answered = await send(request, first, readTimeoutMs, limit)
      if (E.isLeft(answered)) return answered
      const { status, body } = answered.right
      if (status !== 200) return E.left(rejection(status, body, first))
      let items: unknown
      try {
        items = JSON.parse(body)
      } catch (cause) {
        return E.left(CE.serializationError('deserialize', `the sidecar answered a bulk get with a body that is not JSON (${body.length} bytes)`, { key: first, cause }))
      }
      if (!Array.isArray(items) || items.length !== keys.length) {
        return E.left(CE.serializationError('deserialize', `the sidecar answered a bulk get of ${keys.length} keys with something else than ${keys.length} items`, { key: first }))
      }
      return E.right(
        keys.map((key, index): E.Either<CacheError, O.Option<Uint8Array>> => {
          const item = items[index] as { key?: unknown; data?: unknown; error?: unknown } | null
          if (item === null || typeof item !== 'object' || item.key !== key) {
            return E.left(CE.serializationError('deserialize', `the bulk get answered item ${index} for another key than ${JSON.stringify(key)}`, { key }))
          }
          if (typeof item.error === 'string' && item.error !== '') return E.left(CE.storeRejected(500, `the sidecar could not read the key: ${item.error}`, { key }))
          if (item.data === undefined) return E.right(O.none)
          const value = decodeValue(item.data, key)
          return E.isLeft(value) ? value : E.right(O.some(value.right))
        }),
      )
    }

  const set =
    (key: string, value: Uint8Array, ttlSeconds: number): TE.TaskEither<CacheError, void> =>
    async () => {
      const answered = await save(key, value, ttlSeconds, false)
      if (E.isLeft(answered)) return answered
      const { status, body } = answered.right
      return status >= 200 && status < 300 ? E.right(undefined) : E.left(rejection(status, body, key))
    }

  const create =
    (key: string, value: Uint8Array, ttlSeconds: number): TE.TaskEither<CacheError, boolean> =>
    async () => {
      const answered = await save(key, value, ttlSeconds, true)
      if (E.isLeft(answered)) return answered
      const { status, body } = answered.right
      if (status >= 200 && status < 300) return E.right(true)
      return isFirstWriteConflict(status, body) ? E.right(false) : E.left(rejection(status, body, key))
    }

  /** The component's capabilities, from `/v1.0/metadata`, asked once (again after a failed ask). */
  let capabilities: Promise<ReadonlyArray<string> | undefined> | undefined
  const supportsCreate = async (): Promise<boolean> => {
    capabilities ??= send({ method: 'GET', path: '/v1.0/metadata', headers }, undefined, readTimeoutMs).then((answered) => {
      if (E.isLeft(answered) || answered.right.status !== 200) return undefined
      try {
        const metadata = JSON.parse(answered.right.body) as { components?: ReadonlyArray<{ name?: unknown; capabilities?: unknown }> }
        const component = metadata.components?.find((candidate) => candidate.name === storeName)
        return Array.isArray(component?.capabilities) ? (component.capabilities as ReadonlyArray<string>) : []
      } catch {
        return undefined
      }
    })
    const known = await capabilities
    if (known === undefined) {
      capabilities = undefined
      return true // cannot tell now: try, and let a refused create say so
    }
    return known.includes('ETAG')
  }

  const del = (key: string): TE.TaskEither<CacheError, void> => async () => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked
    const answered = await send({ method: 'DELETE', path: keyPath(key), headers }, key, writeTimeoutMs)
    if (E.isLeft(answered)) return answered
    const { status, body } = answered.right
    return status >= 200 && status < 300 ? E.right(undefined) : E.left(rejection(status, body, key))
  }

  const isReady = async (): Promise<boolean> => {
    const answered = await send({ method: 'GET', path: '/v1.0/healthz/outbound', headers: {} }, undefined, readTimeoutMs)
    return E.isRight(answered) && answered.right.status === 204
  }

  const waitUntilReady = async (wait: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}): Promise<void> => {
    const deadline = Date.now() + (wait.timeoutMs ?? 60_000)
    const interval = wait.intervalMs ?? 500
    for (;;) {
      if (await isReady()) return
      if (Date.now() + interval > deadline) {
        throw toError(CE.connectionError(`the sidecar at ${origin} was not ready within ${wait.timeoutMs ?? 60_000} ms`))
      }
      await new Promise((resolve) => setTimeout(resolve, interval))
    }
  }

  const raw: Store = { name: storeName, get, set, setMany, getMany, delete: del, create, supportsCreate }
  const guarded: BreakerStore =
    options.breaker === false
      ? { ...raw, breaker: { state: () => 'closed', failures: () => 0, reset: () => undefined } }
      : withBreaker(raw, options.breaker ?? {})
  return trust({
    name: storeName,
    storeName,
    url: origin,
    get: guarded.get,
    set: guarded.set,
    setMany: guarded.setMany ?? setMany,
    getMany: guarded.getMany ?? getMany,
    delete: guarded.delete,
    create: guarded.create ?? create,
    supportsCreate,
    breaker: guarded.breaker,
    isReady,
    waitUntilReady,
    close: release,
  })
}
