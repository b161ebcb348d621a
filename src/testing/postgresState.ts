/**
 * The state semantics of Dapr's `state.postgresql` component (version 2), for the test sidecar's
 * `'postgres'` flavour, as the component's SQL defines them and as real daprd on PostgreSQL answers:
 *
 * - values stored as Go's `encoding/json` writes them; a fresh UUID etag on every write;
 * - an etag that is not a UUID is an etag mismatch (409) naming the parse error; a stale etag, or
 *   one for an absent or expired key, is a mismatch with no detail;
 * - `first-write` without an etag over a live row is not a conflict but a failure (500
 *   "no item was updated"): the upsert's condition leaves the row alone;
 * - the TTL is parsed as the component's `ParseTTL` does (-1 or more, at most 2^31 - 1); a row
 *   whose expiry has passed is not served, even before the component's cleanup deletes it;
 * - DELETE ignores concurrency and consistency options; with an etag it matches expired rows too;
 * - a bulk get is one query: found rows first (in the table's order, not the request's), then the
 *   missing keys; a key found and asked twice is answered once, and daprd pads the answer with
 *   empty entries;
 * - transactions are all or nothing, their operations applied in order.
 *
 * The in-memory component is in `stateStore.ts`, Redis in `redisState.ts`.
 */
import { randomUUID } from 'node:crypto'
import { goMarshal } from './goJson.js'
import type { BulkItem, Failure, Item, Operation, RequestOptions, SetRequest, StateStore, StateStoreOptions } from './stateStore.js'
import { checkOptions, goParseInt } from './stateStore.js'

const INT32_MAX = 2147483647

/** Google's `uuid.Parse` (which the component uses): the canonical lower-case UUID, or Go's error text. */
export const goParseUuid = (text: string): string | { readonly error: string } => {
  let bytes = Buffer.from(text, 'utf8')
  const hexAt = (at: number): boolean => /^[0-9a-fA-F]{2}$/.test(bytes.subarray(at, at + 2).toString('latin1'))
  switch (bytes.length) {
    case 36:
      break
    case 45:
      if (bytes.subarray(0, 9).toString('latin1').toLowerCase() !== 'urn:uuid:') return { error: `invalid urn prefix: ${JSON.stringify(bytes.subarray(0, 9).toString('latin1'))}` }
      bytes = bytes.subarray(9)
      break
    case 38:
      bytes = bytes.subarray(1)
      break
    case 32: {
      for (let at = 0; at < 32; at += 2) if (!hexAt(at)) return { error: 'invalid UUID format' }
      const hex = bytes.toString('latin1').toLowerCase()
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
    }
    default:
      return { error: `invalid UUID length: ${bytes.length}` }
  }
  const dash = '-'.charCodeAt(0)
  if (bytes[8] !== dash || bytes[13] !== dash || bytes[18] !== dash || bytes[23] !== dash) return { error: 'invalid UUID format' }
  for (const at of [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]) if (!hexAt(at)) return { error: 'invalid UUID format' }
  return bytes.subarray(0, 36).toString('latin1').toLowerCase()
}

/** The component's `ParseTTL`: seconds, none, or the error text it wraps in "error parsing TTL". */
const parseTtl = (raw: string | undefined): number | undefined | { readonly error: string } => {
  if (raw === undefined || raw === '') return undefined
  const parsed = goParseInt('ParseInt', raw)
  if (typeof parsed !== 'number') return { error: `incorrect value for metadata 'ttlInSeconds': ${parsed.error}` }
  if (parsed < -1 || parsed > INT32_MAX) return { error: "incorrect value for metadata 'ttlInSeconds': must be -1 or greater" }
  return parsed
}

const MISMATCH: Failure = { kind: 'etag-mismatch', message: '' }

export const postgresStateStore = ({ now }: StateStoreOptions): StateStore => {
  // The table: a Map keeps rows in the order they were last written, as an update moves a row to
  // the end of PostgreSQL's heap (bulk answers come in that order; nothing should rely on it).
  let rows = new Map<string, Item>()

  const expired = (row: Item): boolean => row.expiresAt !== undefined && row.expiresAt < now()
  const live = (key: string): Item | undefined => {
    const row = rows.get(key)
    return row === undefined || expired(row) ? undefined : row
  }
  const write = (key: string, row: Item): void => {
    rows.delete(key)
    rows.set(key, row)
  }

  /** `doSet`: options, the value, the TTL, the etag's form, then the upsert or the conditional update. */
  const set = (request: SetRequest): Failure | undefined => {
    const invalid = checkOptions(request)
    if (invalid !== undefined) return invalid
    const data = goMarshal(request.value)
    const ttl = parseTtl(request.metadata['ttlInSeconds'])
    if (typeof ttl === 'object') return { kind: 'failed', message: `error parsing TTL: ${ttl.error}` }
    const row: Item = { data, etag: randomUUID(), expiresAt: ttl !== undefined && ttl > 0 ? now() + ttl * 1000 : undefined }
    if (request.etag !== undefined && request.etag !== '') {
      const etag = goParseUuid(request.etag)
      if (typeof etag !== 'string') return { kind: 'etag-mismatch', message: etag.error }
      if (live(request.key)?.etag !== etag) return MISMATCH
      write(request.key, row)
      return undefined
    }
    const current = rows.get(request.key)
    // first-write: the upsert only replaces a row whose expiry has passed.
    if (request.concurrency === 'first-write' && current !== undefined && !expired(current)) return { kind: 'failed', message: 'no item was updated' }
    write(request.key, row)
    return undefined
  }

  /** `doDelete`: no option check; with an etag, only that row (expired or not) goes. */
  const remove = (key: string, etag: string | undefined): Failure | undefined => {
    if (etag === undefined) {
      rows.delete(key)
      return undefined
    }
    const parsed = goParseUuid(etag)
    if (typeof parsed !== 'string') return { kind: 'etag-mismatch', message: parsed.error }
    if (rows.get(key)?.etag !== parsed) return MISMATCH
    rows.delete(key)
    return undefined
  }

  return {
    component: { type: 'state.postgresql', version: 'v2', capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'KEYS_LIKE', 'ACTOR'], reportsExpireTime: true },
    get: live,
    set,
    delete: (key, etag, _options?: RequestOptions) => remove(key, etag),
    bulkGet: (keys) => {
      const wanted = new Set(keys)
      const found: Array<BulkItem> = []
      for (const [key, row] of rows) if (wanted.has(key) && !expired(row)) found.push({ key, item: row })
      const seen = new Set(found.map(({ key }) => key))
      const missing = keys.filter((key) => !seen.has(key)).map((key) => ({ key }))
      return [...found, ...missing]
    },
    multi: (operations: ReadonlyArray<Operation>) => {
      // One operation runs alone; more run in a transaction: the first failure rolls them all back.
      const before = new Map(rows)
      for (const operation of operations) {
        const failure = operation.operation === 'upsert' ? set(operation.request) : remove(operation.key, operation.etag)
        if (failure !== undefined) {
          rows = before
          return failure
        }
      }
      return undefined
    },
    entries: () => [...rows].filter(([, row]) => !expired(row)),
    seed: (key, data, ttlSeconds) => {
      write(key, { data, etag: randomUUID(), expiresAt: ttlSeconds === undefined || ttlSeconds <= 0 ? undefined : now() + ttlSeconds * 1000 })
    },
    clear: () => rows.clear(),
  }
}
