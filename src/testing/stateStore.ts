/**
 * The state semantics of Dapr's `state.in-memory` component, which the test sidecar serves by
 * default: values kept as the JSON bytes Dapr would store (Go's `encoding/json`), a fresh UUID etag
 * on every write, etag and `first-write` checks, TTLs that expire strictly after N seconds (checked
 * lazily against an injectable clock, swept a second later), and all-or-nothing transactions.
 * The Redis component's semantics are in `redisState.ts`; HTTP is the sidecar's business.
 */
import { randomUUID } from 'node:crypto'
import { goMarshal } from './goJson.js'

export interface Item {
  /** The stored bytes, as a JSON text. */
  readonly data: string
  readonly etag: string
  /** Epoch milliseconds after which the item is gone; undefined: never. */
  readonly expiresAt: number | undefined
}

export interface SetRequest {
  readonly key: string
  /** The request's `value`, decoded from JSON. */
  readonly value: unknown
  readonly etag?: string | undefined
  readonly metadata: Readonly<Record<string, string>>
  readonly concurrency?: string | undefined
  readonly consistency?: string | undefined
}

/**
 * Why a write or delete failed: `etag-mismatch` (Dapr's ETagMismatch: 409 on save and delete),
 * `etag-invalid` (ETagInvalid: 400), or `failed` (any other store error: 500). `message` is the
 * store's own error text.
 */
export type Failure =
  | { readonly kind: 'etag-mismatch'; readonly message: string }
  | { readonly kind: 'etag-invalid'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }

export type Operation =
  | { readonly operation: 'upsert'; readonly request: SetRequest }
  | { readonly operation: 'delete'; readonly key: string; readonly etag?: string | undefined }

/** What the sidecar needs to know of a component beyond its state operations. */
export interface Component {
  /** The component type `/v1.0/metadata` reports, e.g. `state.in-memory`. */
  readonly type: string
  /** The component version `/v1.0/metadata` reports (default `v1`). */
  readonly version?: string | undefined
  readonly capabilities: ReadonlyArray<string>
  /** Whether GET reports `metadata.ttlExpireTime` for items with a TTL. */
  readonly reportsExpireTime: boolean
}

/** A request's `concurrency` and `consistency` options. */
export interface RequestOptions {
  readonly concurrency?: string | undefined
  readonly consistency?: string | undefined
}

/** One entry of a component's own bulk get: a key and its item, or the key alone when it has none. */
export interface BulkItem {
  readonly key: string
  readonly item?: Item | undefined
}

export interface StateStore {
  readonly component: Component
  readonly get: (key: string) => Item | undefined
  readonly set: (request: SetRequest) => Failure | undefined
  readonly delete: (key: string, etag: string | undefined, options?: RequestOptions) => Failure | undefined
  /**
   * A component's own bulk get, in its order (fewer entries than keys where it answers a key asked
   * twice once); without it, Dapr's default: each key read on its own, in the order asked.
   */
  readonly bulkGet?: (keys: ReadonlyArray<string>) => ReadonlyArray<BulkItem>
  /** A transaction, with the failure the component reports. */
  readonly multi: (operations: ReadonlyArray<Operation>) => Failure | undefined
  /** Every live item, for assertions. */
  readonly entries: () => ReadonlyArray<readonly [string, Item]>
  /** Writes raw stored bytes directly, as another client (or Dapr itself) would have. */
  readonly seed: (key: string, data: string, ttlSeconds?: number) => void
  readonly clear: () => void
}

export interface StateStoreOptions {
  /** Epoch milliseconds. */
  readonly now: () => number
  /** The app id Dapr prefixes keys with (`<appId>||<key>`), seen only in error messages. */
  readonly appId: string
}

/** The key as the component sees it, for error messages: Dapr's default `appid` key prefix. */
export const storedKey = (appId: string, key: string): string => (appId === '' ? key : `${appId}||${key}`)

const INT64_MAX = 9223372036854775807n

/** Go's `strconv.ParseInt(s, 10, 64)` (and `Atoi`, named `fn`): the number, or Go's error text. */
export const goParseInt = (fn: 'Atoi' | 'ParseInt', raw: string): number | { readonly error: string } => {
  if (!/^[+-]?\d+$/.test(raw)) return { error: `strconv.${fn}: parsing ${JSON.stringify(raw)}: invalid syntax` }
  const value = BigInt(raw)
  if (value > INT64_MAX || value < -INT64_MAX - 1n) return { error: `strconv.${fn}: parsing ${JSON.stringify(raw)}: value out of range` }
  return Number(value)
}

/** `state.CheckRequestOptions`: unknown concurrency or consistency values are store errors. */
export const checkOptions = (request: RequestOptions): Failure | undefined => {
  if (request.concurrency !== undefined && request.concurrency !== '' && request.concurrency !== 'first-write' && request.concurrency !== 'last-write') {
    return { kind: 'failed', message: `unrecognized concurrency model '${request.concurrency}'` }
  }
  if (request.consistency !== undefined && request.consistency !== '' && request.consistency !== 'strong' && request.consistency !== 'eventual') {
    return { kind: 'failed', message: `unrecognized consistency model '${request.consistency}'` }
  }
  return undefined
}

/** The component sweeps expired items once a second; until the next sweep they still count for etag checks. */
const SWEEP_MS = 1000

export const inMemoryStateStore = ({ now, appId }: StateStoreOptions): StateStore => {
  const items = new Map<string, Item>()
  const sweepsFrom = now() // the sweeps run on a one-second beat from the component's start
  const sweptAt = (expiresAt: number): number => sweepsFrom + (Math.floor((expiresAt - sweepsFrom) / SWEEP_MS) + 1) * SWEEP_MS

  const live = (key: string): Item | undefined => {
    const item = items.get(key)
    if (item === undefined) return undefined
    if (item.expiresAt !== undefined && now() > item.expiresAt) {
      items.delete(key)
      return undefined
    }
    return item
  }

  /** What the etag check sees: expired items linger until the sweep. */
  const present = (key: string): Item | undefined => {
    const item = items.get(key)
    if (item?.expiresAt !== undefined && now() >= sweptAt(item.expiresAt)) {
      items.delete(key)
      return undefined
    }
    return item
  }

  /** in-memory `doValidateEtag`. */
  const validateEtag = (key: string, etag: string | undefined, concurrency: string | undefined): Failure | undefined => {
    const hasEtag = etag !== undefined && etag !== ''
    const current = present(key)
    if (concurrency === 'first-write' && !hasEtag) {
      return current === undefined ? undefined : { kind: 'etag-mismatch', message: 'item already exists and no etag was passed' }
    }
    if (!hasEtag) return undefined
    if (current === undefined) return { kind: 'etag-mismatch', message: `state not exist or expired for key=${storedKey(appId, key)}` }
    if (current.etag !== etag) {
      return { kind: 'etag-mismatch', message: `state etag not match for key=${storedKey(appId, key)}: current=${current.etag}, expect=${etag}` }
    }
    return undefined
  }

  /** `doParseTTLInSeconds`: Atoi; below 0 counts as 0; 0 means no expiry. */
  const prepare = (request: SetRequest): { item: Item } | Failure => {
    const invalid = checkOptions(request)
    if (invalid !== undefined) return invalid
    const raw = request.metadata['ttlInSeconds'] ?? ''
    const ttl = raw === '' ? 0 : goParseInt('Atoi', raw)
    if (typeof ttl !== 'number') return { kind: 'failed', message: ttl.error }
    const mismatch = validateEtag(request.key, request.etag, request.concurrency)
    if (mismatch !== undefined) return mismatch
    return { item: { data: goMarshal(request.value), etag: randomUUID(), expiresAt: ttl > 0 ? now() + ttl * 1000 : undefined } }
  }

  return {
    component: {
      type: 'state.in-memory',
      capabilities: ['ETAG', 'TRANSACTIONAL', 'TTL', 'DELETE_WITH_PREFIX', 'KEYS_LIKE', 'ACTOR'],
      reportsExpireTime: true,
    },
    get: live,
    set: (request) => {
      const prepared = prepare(request)
      if ('kind' in prepared) return prepared
      items.set(request.key, prepared.item)
      return undefined
    },
    delete: (key, etag, options = {}) => {
      const invalid = checkOptions(options)
      if (invalid !== undefined) return invalid
      const mismatch = validateEtag(key, etag, undefined)
      if (mismatch !== undefined) return mismatch
      items.delete(key)
      return undefined
    },
    multi: (operations) => {
      // Validate everything first, then apply everything: all or nothing.
      const writes: Array<readonly [string, Item | undefined]> = []
      for (const operation of operations) {
        const prepared =
          operation.operation === 'upsert'
            ? prepare(operation.request)
            : (validateEtag(operation.key, operation.etag, undefined) ?? { item: undefined })
        if ('kind' in prepared) return prepared
        writes.push([operation.operation === 'upsert' ? operation.request.key : operation.key, prepared.item])
      }
      for (const [key, item] of writes) {
        if (item === undefined) items.delete(key)
        else items.set(key, item)
      }
      return undefined
    },
    entries: () =>
      Array.from(items.keys()).flatMap((key) => {
        const item = live(key)
        return item === undefined ? [] : [[key, item] as const]
      }),
    seed: (key, data, ttlSeconds) => {
      items.set(key, { data, etag: randomUUID(), expiresAt: ttlSeconds === undefined || ttlSeconds <= 0 ? undefined : now() + ttlSeconds * 1000 })
    },
    clear: () => items.clear(),
  }
}
