/**
 * The state semantics of Dapr's `state.mongodb` component, for the test sidecar's `'mongodb'`
 * flavour, as the component's Go code defines them and as real daprd answers on the
 * MongoDB-compatible server `startDaprd` runs (FerretDB over PostgreSQL with DocumentDB: its error
 * texts, and its transactions, which are not atomic):
 *
 * - a string value is stored as Go's `%q` writes it (HTML characters as they are, control
 *   characters as `\x01`); other values as Go's `encoding/json` writes them back;
 * - a fresh UUID etag on every write; a save is an upsert filtered on the key (and the etag sent, or
 *   for `first-write` a new random one): an etag on an absent key creates it, and a stale etag, or a
 *   `first-write` over any document, even an expired one, is a duplicate key (409);
 * - any `ttlInSeconds` sets the expiry to now plus that many seconds: 0 and negative values expire
 *   the value at once; a save without one removes the expiry; unknown concurrency or consistency
 *   values are not checked;
 * - reads leave out expired documents, which stay until the TTL monitor removes them;
 * - a delete ignores expiry and options; with an etag that matches nothing it is a 409 with no detail;
 * - a bulk get is one query: found documents first, then the missing keys;
 * - a transaction runs its operations in order and stops at the first failure; those before it stay.
 */
import { randomUUID } from 'node:crypto'
import { goMarshal } from './goJson.js'
import type { BulkItem, Failure, Item, Operation, SetRequest, StateStore, StateStoreOptions } from './stateStore.js'
import { goParseInt } from './stateStore.js'

const INT32_MAX = 2147483647

/** FerretDB's text for a duplicate `_id`, which the component reports as an etag mismatch. */
const DUPLICATE_KEY = "write exception: write errors: [Duplicate key violation on the requested collection: Index '_id_']"

/** Go's `unicode.IsPrint`. */
const isPrint = (character: string, codePoint: number): boolean =>
  codePoint <= 0xff ? (codePoint >= 0x20 && codePoint < 0x7f) || (codePoint >= 0xa1 && codePoint !== 0xad) : /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(character)

const SHORT_ESCAPES: Readonly<Record<number, string>> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' }

/** Go's `strconv.Quote` (`%q`) of a string Go decoded from JSON (a lone surrogate became U+FFFD). */
export const goQuote = (text: string): string => {
  let quoted = '"'
  for (const unit of text) {
    const character = (unit.codePointAt(0) ?? 0) >= 0xd800 && (unit.codePointAt(0) ?? 0) <= 0xdfff ? '\ufffd' : unit
    const codePoint = character.codePointAt(0) ?? 0
    if (character === '"' || character === '\\') quoted += `\\${character}`
    else if (isPrint(character, codePoint)) quoted += character
    else if (SHORT_ESCAPES[codePoint] !== undefined) quoted += SHORT_ESCAPES[codePoint]
    else if (codePoint < 0x20 || codePoint === 0x7f) quoted += `\\x${codePoint.toString(16).padStart(2, '0')}`
    else if (codePoint < 0x10000) quoted += `\\u${codePoint.toString(16).padStart(4, '0')}`
    else quoted += `\\U${codePoint.toString(16).padStart(8, '0')}`
  }
  return `${quoted}"`
}

/** An etag error as Dapr's `ETagError` renders it inside another message. */
const etagText = (message: string): string => `possible etag mismatch. error from state store${message === '' ? '' : `: ${message}`}`

export const mongoStateStore = ({ now }: StateStoreOptions): StateStore => {
  const documents = new Map<string, Item>()

  const live = (key: string): Item | undefined => {
    const document = documents.get(key)
    return document === undefined || (document.expiresAt !== undefined && document.expiresAt < now()) ? undefined : document
  }

  /** `setInternal`: the TTL, then the upsert filtered on the key and an etag. */
  const set = (request: SetRequest): Failure | undefined => {
    const raw = request.metadata['ttlInSeconds'] ?? ''
    let ttl: number | undefined
    if (raw !== '') {
      const parsed = goParseInt('ParseInt', raw)
      if (typeof parsed !== 'number') return { kind: 'failed', message: `failed to parse TTL: incorrect value for metadata 'ttlInSeconds': ${parsed.error}` }
      if (parsed < -1 || parsed > INT32_MAX) return { kind: 'failed', message: "failed to parse TTL: incorrect value for metadata 'ttlInSeconds': must be -1 or greater" }
      ttl = parsed
    }
    const current = documents.get(request.key)
    const etag = request.etag !== undefined && request.etag !== '' ? request.etag : request.concurrency === 'first-write' ? randomUUID() : undefined
    // The filter finds no document: an insert, which collides with any document of that key.
    if (current !== undefined && etag !== undefined && current.etag !== etag) return { kind: 'etag-mismatch', message: DUPLICATE_KEY }
    const data = typeof request.value === 'string' ? goQuote(request.value) : goMarshal(request.value)
    documents.set(request.key, { data, etag: randomUUID(), expiresAt: ttl === undefined ? undefined : now() + ttl * 1000 })
    return undefined
  }

  /** `deleteInternal`: by key, and etag when one is sent; expiry does not matter. */
  const remove = (key: string, etag: string | undefined): Failure | undefined => {
    const current = documents.get(key)
    if (etag !== undefined && current?.etag !== etag) return { kind: 'etag-mismatch', message: '' }
    documents.delete(key)
    return undefined
  }

  return {
    component: { type: 'state.mongodb', capabilities: ['ETAG', 'TRANSACTIONAL', 'QUERY_API', 'TTL', 'KEYS_LIKE', 'ACTOR'], reportsExpireTime: true },
    get: live,
    set,
    delete: (key, etag) => remove(key, etag),
    bulkGet: (keys) => {
      const wanted = new Set(keys)
      const found: Array<BulkItem> = []
      for (const key of documents.keys()) {
        const document = wanted.has(key) ? live(key) : undefined
        if (document !== undefined) found.push({ key, item: document })
      }
      const seen = new Set(found.map(({ key }) => key))
      return [...found, ...keys.filter((key) => !seen.has(key)).map((key) => ({ key }))]
    },
    multi: (operations: ReadonlyArray<Operation>) => {
      for (const operation of operations) {
        const failure = operation.operation === 'upsert' ? set(operation.request) : remove(operation.key, operation.etag)
        if (failure !== undefined) {
          const text = failure.kind === 'etag-mismatch' ? etagText(failure.message) : failure.message
          return { kind: 'failed', message: `error during transaction, aborting the transaction: ${text}` }
        }
      }
      return undefined
    },
    entries: () => [...documents.keys()].flatMap((key) => {
      const document = live(key)
      return document === undefined ? [] : [[key, document] as const]
    }),
    seed: (key, data, ttlSeconds) => {
      documents.set(key, { data, etag: randomUUID(), expiresAt: ttlSeconds === undefined || ttlSeconds <= 0 ? undefined : now() + ttlSeconds * 1000 })
    },
    clear: () => documents.clear(),
  }
}
