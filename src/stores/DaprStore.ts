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
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import { toError } from '../errors.js'
import type { BreakerOptions, BreakerStore } from './Breaker.js'
import { trust } from '../internal/guardedStore.js'
import { KEY_PART, daprKeyProblem, isKeyPart } from '../Key.js'
import { MAX_INT32, checkOption, group, milliseconds, nonNegativeInteger, optional } from '../internal/options.js'
import type { CacheMetrics, MetricsContext } from '../Metrics.js'
import { combineMetrics, metricsSinkCodec } from '../Metrics.js'
import { withBreaker } from './Breaker.js'
import type { BatchOptions, BulkRead, Read } from './dapr/batch.js'
import { answerSizes, batched } from './dapr/batch.js'
import type { Store, StoreEntry, Versioned } from '../Store.js'
import type { AnswerLimit } from './dapr/http.js'
import { MIB, acquire, sender } from './dapr/http.js'
import { fail, positiveInteger, resolveDaprUrl } from './dapr/options.js'
import { decodeValue, isFirstWriteConflict, parseValue, pathSegment, rejection, saveBody, saveItems } from './dapr/wire.js'

export { resolveDaprUrl } from './dapr/options.js'
/** The options `daprStore` knows. */
const KNOWN_OPTIONS: ReadonlyArray<keyof DaprStoreOptions> = [
  'storeName', 'daprUrl', 'apiToken', 'timeoutMs', 'readTimeoutMs', 'writeTimeoutMs', 'breaker', 'connections', 'maxBodyBytes', 'maxValueBytes', 'batch', 'metrics', 'env',
]

/** Options that are an object of known names, with a `daprUrl` that is a string: a typo is refused, not ignored. */
const checkKnown = (options: unknown): void => {
  if (typeof options !== 'object' || options === null) fail(CE.invalidOptions('options', options, 'an object of daprStore options'))
  for (const name of Object.keys(options as object)) {
    if (!(KNOWN_OPTIONS as ReadonlyArray<string>).includes(name)) {
      fail(CE.invalidOptions(name, CE.NOT_SHOWN, `a known option; the options are ${KNOWN_OPTIONS.join(', ')}`))
    }
  }
  const daprUrl = (options as DaprStoreOptions).daprUrl as unknown
  if (daprUrl !== undefined && typeof daprUrl !== 'string') fail(CE.invalidOptions('daprUrl', daprUrl, 'a string: an http(s) URL such as http://127.0.0.1:3500'))
}

/** What an HTTP header value may hold (RFC 9110 field-value, as undici checks it). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

export { isFirstWriteConflict, parseValue, pathSegment, rejection, saveBody, saveItems } from './dapr/wire.js'

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
  /**
   * Reads batched (on by default; `false` turns it off): the single-key reads of one turn of the
   * event loop go out as one bulk read (`POST /v1.0/state/{store}/bulk`), each caller getting its own
   * key's answer; a lone read stays a single GET. `windowMs` (0 or up to 1) waits that long for more
   * keys; `maxKeys` (default 100) bounds a batch. A bulk read carries at most about 16 KiB of values (the
   * store learns their size from its reads), so large values are read in smaller bulk reads side by
   * side, or key by key. A sidecar without the bulk endpoint is read key by key. Measured on real
   * daprd: 2.5-4.2x the reads per second of one request per key, at a lower p99, and an isolated
   * read no slower (docs/benchmarks.md, section 15).
   */
  readonly batch?: true | BatchOptions | false | undefined
  /**
   * Told the size of every read sent (`recordBatch`: a bulk read's distinct keys, 1 for a read that
   * went alone), for the batch sizes' histogram. The store's own: a function's `withMetrics` sees its
   * hits and misses, not how the store grouped the reads.
   */
  readonly metrics?: CacheMetrics | undefined
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

/** The least time a probe of `waitUntilReady` is given, the last one past the deadline included. */
const LAST_PROBE_MS = 250

/** `waitUntilReady`'s options. */
const waitCodec = group('waitUntilReady options', {
  timeoutMs: optional(nonNegativeInteger('a number of milliseconds from 0 (one probe) to 2147483647', MAX_INT32)),
  intervalMs: optional(milliseconds),
})

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * A store in the Dapr state store `storeName`, through the sidecar's HTTP API. Options are checked
 * here, and a bad one throws a `CacheOptionsError` naming it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const daprStore = (options: DaprStoreOptions = {}): DaprStore => {
  checkKnown(options)
  const env = options.env ?? process.env
  const storeName = options.storeName ?? 'cache'
  if (!isKeyPart(storeName)) fail(CE.invalidOptions('storeName', storeName, KEY_PART))
  const origin = resolveDaprUrl(options.daprUrl, env)
  const apiToken = options.apiToken ?? (env['DAPR_API_TOKEN'] === '' ? undefined : env['DAPR_API_TOKEN'])
  // Sent as a header on every request: a value no header can carry is refused here, never echoed.
  if (apiToken !== undefined && (typeof apiToken !== 'string' || !HEADER_VALUE.test(apiToken))) {
    fail(CE.invalidOptions(options.apiToken === undefined ? 'DAPR_API_TOKEN' : 'apiToken', CE.NOT_SHOWN, 'a header value: tabs, spaces and visible Latin-1 characters only (no line break or control character)'))
  }
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 5_000, MAX_INT32)
  const readTimeoutMs = positiveInteger('readTimeoutMs', options.readTimeoutMs, timeoutMs, MAX_INT32)
  const writeTimeoutMs = positiveInteger('writeTimeoutMs', options.writeTimeoutMs, timeoutMs, MAX_INT32)
  const connections = positiveInteger('connections', options.connections, 16)
  const maxBodyBytes = positiveInteger('maxBodyBytes', options.maxBodyBytes, 4 * MIB)
  const maxValueBytes = positiveInteger('maxValueBytes', options.maxValueBytes, 3 * MIB)
  /** A value read: at most the base64 of `maxValueBytes`, in quotes; more is a value too large. */
  const valueAnswers: AnswerLimit = {
    bytes: 2 + 4 * Math.ceil(maxValueBytes / 3),
    error: (known, _status, key) => CE.valueTooLarge('read', Math.floor(((known - 2) * 3) / 4), maxValueBytes, { key }),
  }
  const { pool, release } = acquire(origin, connections, Math.max(readTimeoutMs, writeTimeoutMs))
  const send = sender(pool, origin)

  const statePath = `/v1.0/state/${pathSegment(storeName)}`
  const keyPath = (key: string) => `${statePath}/${pathSegment(key)}`
  const headers: Record<string, string> = apiToken === undefined ? {} : { 'dapr-api-token': apiToken }
  const jsonHeaders: Record<string, string> = { ...headers, 'content-type': 'application/json' }

  const checkKey = (key: string): E.Either<CacheError, string> => {
    if (key === '') return E.left(CE.keyError('an empty key cannot be stored in Dapr'))
    const problem = daprKeyProblem(key)
    return problem === undefined ? E.right(key) : E.left(problem)
  }

  const getOne = async (key: string): Promise<E.Either<CacheError, O.Option<Uint8Array>>> => {
    const answered = await send({ method: 'GET', path: keyPath(key), headers }, key, readTimeoutMs, valueAnswers)
    if (E.isLeft(answered)) return answered
    const { status, body } = answered.right
    if (status === 204) return E.right(O.none)
    if (status !== 200) return E.left(rejection(status, body, key))
    if (body === '') return E.left(CE.serializationError('deserialize', 'the sidecar answered 200 with an empty body', { key }))
    const value = parseValue(body, key)
    return E.isLeft(value) ? value : E.right(O.some(value.right))
  }

  /** Each key read alone, side by side (each read counted as sent), by key. */
  const eachAlone = async (keys: ReadonlyArray<string>): Promise<ReadonlyMap<string, Read>> =>
    new Map(
      await Promise.all(
        keys.map(async (key): Promise<[string, Read]> => {
          sent?.(1)
          return [key, await getOne(key)]
        }),
      ),
    )

  /**
   * One bulk read for a batch: each requested key's answer found by its key, never by its place; a
   * key the answer lacks or holds twice is an error of that key alone (the call runs uncached).
   */
  const bulkRead: BulkRead = async (keys) => {
    const [first] = keys
    if (first === undefined) return E.right(new Map())
    const limit: AnswerLimit = { bytes: keys.length * (valueAnswers.bytes + 1024), error: (known, status, key) => valueAnswers.error(known, status, key) }
    const request = { method: 'POST' as const, path: `${statePath}/bulk`, headers: jsonHeaders, body: JSON.stringify({ keys, parallelism: Math.min(keys.length, 16) }) }
    const answered = await send(request, first, readTimeoutMs, limit)
    // Counted as sent whatever came back, but for a sidecar without the endpoint (read key by key instead).
    if (E.isLeft(answered) || (answered.right.status !== 404 && answered.right.status !== 405)) sent?.(keys.length)
    if (E.isLeft(answered) && answered.left._tag === 'ValueTooLarge') {
      // An answer past the batch's bound holds a value past its own: each key is read alone, so that
      // only that key is too large (each single read bounded as ever).
      return E.right(await eachAlone(keys))
    }
    if (E.isLeft(answered)) return answered
    const { status, body } = answered.right
    if (status === 404 || status === 405) return 'unsupported'
    if (status !== 200) return E.left(rejection(status, body, first))
    let items: unknown
    try {
      items = JSON.parse(body)
    } catch (cause) {
      return E.left(CE.serializationError('deserialize', `the sidecar answered a bulk get with a body that is not JSON (${body.length} bytes)`, { key: first, cause }))
    }
    if (!Array.isArray(items)) return E.left(CE.serializationError('deserialize', 'the sidecar answered a bulk get with something else than a list', { key: first }))
    const byKey = new Map<string, Array<{ data?: unknown; error?: unknown }>>()
    for (const item of items as ReadonlyArray<unknown>) {
      if (typeof item !== 'object' || item === null || typeof (item as { key?: unknown }).key !== 'string') continue
      const key = (item as { key: string }).key
      byKey.set(key, [...(byKey.get(key) ?? []), item])
    }
    return E.right(
      new Map(
        keys.map((key): [string, E.Either<CacheError, O.Option<Uint8Array>>] => {
          const found = byKey.get(key) ?? []
          if (found.length !== 1) {
            const what = found.length === 0 ? 'lacked the key' : `held the key ${found.length} times`
            return [key, E.left(CE.serializationError('deserialize', `the sidecar's bulk get answer ${what}`, { key }))]
          }
          const item = found[0] as { data?: unknown; error?: unknown }
          if (typeof item.error === 'string' && item.error !== '') return [key, E.left(CE.storeRejected(500, `the sidecar could not read the key: ${item.error}`, { key }))]
          if (item.data === undefined) return [key, E.right(O.none)]
          const value = decodeValue(item.data, key)
          if (E.isLeft(value)) return [key, value]
          // Each entry bounded as a single read bounds it: a larger one is that key's error alone.
          if (value.right.byteLength > maxValueBytes) return [key, E.left(CE.valueTooLarge('read', value.right.byteLength, maxValueBytes, { key }))]
          return [key, E.right(O.some(value.right))]
        }),
      ),
    )
  }

  const batchOption = options.batch
  if (batchOption !== undefined && batchOption !== false && batchOption !== true) {
    if (typeof batchOption !== 'object' || batchOption === null) fail(CE.invalidOptions('batch', batchOption, 'true, false or { windowMs, maxKeys }'))
    const { windowMs, maxKeys, ...rest } = batchOption
    const unknown = Object.keys(rest)[0]
    if (unknown !== undefined) fail(CE.invalidOptions(`batch.${unknown}`, CE.NOT_SHOWN, 'a known field; the fields are windowMs, maxKeys'))
    if (windowMs !== undefined && !(typeof windowMs === 'number' && windowMs >= 0 && windowMs <= 1)) fail(CE.invalidOptions('batch.windowMs', windowMs, 'a number of milliseconds from 0 to 1'))
    if (maxKeys !== undefined) positiveInteger('batch.maxKeys', maxKeys, 100, 1000)
  }
  const batchOptions = batchOption === undefined || batchOption === true || batchOption === false ? {} : batchOption
  const maxKeys = batchOptions.maxKeys ?? 100
  const sink = options.metrics === undefined ? undefined : combineMetrics([checkOption('metrics', metricsSinkCodec, options.metrics)])
  const sinkContext: MetricsContext = { name: undefined, store: storeName }
  const sent = sink?.recordBatch === undefined ? undefined : (keys: number) => sink.recordBatch?.(keys, sinkContext)
  // Whether the sidecar has the bulk endpoint: yes until it answers 404 or 405, and then never again.
  let bulkWorks = true
  const bulkWhileItWorks: BulkRead = async (keys) => {
    if (!bulkWorks) return 'unsupported'
    const answered = await bulkRead(keys)
    if (answered === 'unsupported') bulkWorks = false
    return answered
  }
  // What reads learn of the values' sizes bounds the keys of each bulk read, batched or `many`.
  const sizes = answerSizes(maxKeys)
  const read =
    batchOption === false
      ? (key: string): Promise<Read> => {
          sent?.(1)
          return getOne(key)
        }
      : batched(getOne, bulkWhileItWorks, batchOptions, sent, sizes)

  const get = (key: string): TE.TaskEither<CacheError, O.Option<Uint8Array>> => async () => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked
    return read(key)
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

  /** Several keys in one bulk get; each answer in the order asked, a missing key as none, found by its key. */
  const getMany =
    (keys: ReadonlyArray<string>): TE.TaskEither<CacheError, ReadonlyArray<E.Either<CacheError, O.Option<Uint8Array>>>> =>
    async () => {
      const [first] = keys
      if (first === undefined) return E.right([])
      for (const key of keys) {
        const checked = checkKey(key)
        if (E.isLeft(checked)) return checked
      }
      const found = await readAll([...new Set(keys)])
      return E.isLeft(found) ? found : E.right(keys.map((key) => found.right.get(key) as E.Either<CacheError, O.Option<Uint8Array>>))
    }

  /**
   * Distinct keys in bulk reads side by side, each of at most `maxKeys` and about `BULK_BYTES` of
   * values (as far as the reads so far tell); key by key, once the sidecar has shown it has no bulk
   * endpoint. `Left` when a whole request failed.
   */
  const readAll = async (keys: ReadonlyArray<string>): Promise<E.Either<CacheError, ReadonlyMap<string, Read>>> => {
    const chunks: Array<ReadonlyArray<string>> = []
    const perRequest = sizes.keysPerRequest()
    for (let at = 0; at < keys.length; at += perRequest) chunks.push(keys.slice(at, at + perRequest))
    const answers = await Promise.all(
      chunks.map(async (chunk): Promise<E.Either<CacheError, ReadonlyMap<string, Read>>> => {
        if (chunk.length === 1) return E.right(await eachAlone(chunk))
        const read = await bulkWhileItWorks(chunk)
        // A chunk that failed is an error of its own keys: the other chunks' answers stand.
        if (read !== 'unsupported') return E.isLeft(read) ? E.right(new Map(chunk.map((key): [string, Read] => [key, read]))) : read
        return E.right(await eachAlone(chunk))
      }),
    )
    const failed = answers.find(E.isLeft)
    if (failed !== undefined) return failed
    return E.right(new Map(answers.flatMap((answer) => [...(answer as E.Right<ReadonlyMap<string, Read>>).right].map(([key, read]): [string, Read] => [key, sizes.learn(read)]))))
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

  const getVersioned = (key: string): TE.TaskEither<CacheError, O.Option<Versioned>> => async () => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked
    const answered = await send({ method: 'GET', path: keyPath(key), headers }, key, readTimeoutMs, valueAnswers)
    if (E.isLeft(answered)) return answered
    const { status, body, etag } = answered.right
    if (status === 204) return E.right(O.none)
    if (status !== 200) return E.left(rejection(status, body, key))
    if (etag === undefined) return E.left(CE.storeRejected(status, 'the component answered without an ETag: it cannot version entries', { key }))
    const value = parseValue(body, key)
    return E.isLeft(value) ? value : E.right(O.some({ value: value.right, etag }))
  }

  /**
   * A save only at `etag` (none: only if absent), with first-write concurrency (Redis ignores an
   * ETag under last-write). A conflict is Right(false): 409, or Redis's 500 for an entry written
   * with first-write when no ETag is given.
   */
  const setIf =
    (key: string, value: Uint8Array, ttlSeconds: number, etag: string | undefined): TE.TaskEither<CacheError, boolean> =>
    async () => {
      const refused = unsendable({ key, value, ttlSeconds })
      if (refused !== undefined) return E.left(refused)
      const body = saveBody(key, value, ttlSeconds, true, etag)
      if (Buffer.byteLength(body) > maxBodyBytes) return E.left(CE.storeRejected(413, `not sent: the save request would be over the sidecar's limit of ${maxBodyBytes} bytes`, { key }))
      const answered = await send({ method: 'POST', path: statePath, headers: jsonHeaders, body }, key, writeTimeoutMs)
      if (E.isLeft(answered)) return answered
      const { status, body: answer } = answered.right
      if (status >= 200 && status < 300) return E.right(true)
      return status === 409 || isFirstWriteConflict(status, answer) ? E.right(false) : E.left(rejection(status, answer, key))
    }

  /** A delete only at `etag` (`If-Match`); a conflict or a missing entry is Right(false) (409). */
  const deleteIf = (key: string, etag: string): TE.TaskEither<CacheError, boolean> => async () => {
    const checked = checkKey(key)
    if (E.isLeft(checked)) return checked
    const answered = await send({ method: 'DELETE', path: keyPath(key), headers: { ...headers, 'if-match': etag } }, key, writeTimeoutMs)
    if (E.isLeft(answered)) return answered
    const { status, body } = answered.right
    if (status >= 200 && status < 300) return E.right(true)
    return status === 409 ? E.right(false) : E.left(rejection(status, body, key))
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

  /** Deletes in one transaction request (atomic on the in-memory component, not on Redis); a failed one is answered 500. */
  const deleteMany = (keys: ReadonlyArray<string>): TE.TaskEither<CacheError, void> => async () => {
    const [first] = keys
    if (first === undefined) return E.right(undefined)
    for (const key of keys) {
      const checked = checkKey(key)
      if (E.isLeft(checked)) return checked
    }
    if (!transactionsSpanSlots) return deleteEach(keys)
    const body = JSON.stringify({ operations: keys.map((key) => ({ operation: 'delete', request: { key } })) })
    const answered = await send({ method: 'POST', path: `${statePath}/transaction`, headers: jsonHeaders, body }, first, writeTimeoutMs)
    if (E.isLeft(answered)) return answered
    const { status, body: answer } = answered.right
    if (status >= 200 && status < 300) return E.right(undefined)
    if (status === 500 && /CROSSSLOT/.test(answer)) {
      // Redis Cluster: a transaction's keys must share a hash slot. Deletes need no atomicity here
      // (each is idempotent): from now on they go key by key, side by side.
      transactionsSpanSlots = false
      return deleteEach(keys)
    }
    return E.left(rejection(status, answer, first))
  }

  /** Whether a transaction may hold keys of any hash slot: until Redis Cluster says CROSSSLOT. */
  let transactionsSpanSlots = true

  /** Each key deleted alone, side by side: the first failure, if any. */
  const deleteEach = async (keys: ReadonlyArray<string>): Promise<E.Either<CacheError, void>> => {
    const results = await Promise.all(keys.map((key) => del(key)()))
    return results.find(E.isLeft) ?? E.right(undefined)
  }

  /** One probe of the outbound health endpoint, answered within `timeoutMs`. */
  const probe = async (timeoutMs: number): Promise<boolean> => {
    const answered = await send({ method: 'GET', path: '/v1.0/healthz/outbound', headers: {} }, undefined, timeoutMs)
    return E.isRight(answered) && answered.right.status === 204
  }
  const isReady = (): Promise<boolean> => probe(readTimeoutMs)

  const waitUntilReady = async (wait: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}): Promise<void> => {
    const { timeoutMs: within = 60_000, intervalMs = 500 } = checkOption('waitUntilReady', waitCodec, wait)
    const deadline = Date.now() + within
    for (;;) {
      // Probes until the time is up, the last one at the deadline; a probe gets the time left, and at
      // least LAST_PROBE_MS (an answer needs a round trip), never the whole read timeout past it.
      if (await probe(Math.min(readTimeoutMs, Math.max(LAST_PROBE_MS, deadline - Date.now())))) return
      const left = deadline - Date.now()
      if (left <= 0) throw toError(CE.connectionError(`the sidecar at ${origin} was not ready within ${within} ms`))
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)))
    }
  }

  const raw: Store = { name: storeName, get, set, setMany, getMany, delete: del, create, supportsCreate, getVersioned, setIf, deleteIf, deleteMany }
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
    deleteMany: guarded.deleteMany ?? deleteMany,
    getVersioned: guarded.getVersioned ?? getVersioned,
    setIf: guarded.setIf ?? setIf,
    deleteIf: guarded.deleteIf ?? deleteIf,
    breaker: guarded.breaker,
    isReady,
    waitUntilReady,
    close: release,
  })
}
