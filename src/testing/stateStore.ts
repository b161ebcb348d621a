/**
 * The state semantics of Dapr's `state.in-memory` component, which the test sidecar serves: values
 * kept as the JSON bytes Dapr would store, a fresh UUID etag on every write, etag and `first-write`
 * checks, TTLs that expire strictly after N seconds (checked lazily, against an injectable clock),
 * and all-or-nothing transactions. HTTP is the sidecar's business, not this module's.
 */
import { randomUUID } from 'node:crypto'

export interface Item {
  /** The stored bytes, as a JSON text. */
  readonly data: string
  readonly etag: string
  /** Epoch milliseconds after which the item is gone; undefined: never. */
  readonly expiresAt: number | undefined
}

export interface SetRequest {
  readonly key: string
  readonly data: string
  readonly etag?: string | undefined
  readonly metadata: Readonly<Record<string, string>>
  readonly concurrency?: string | undefined
  readonly consistency?: string | undefined
}

export type Failure =
  | { readonly kind: 'etag-mismatch'; readonly message: string }
  | { readonly kind: 'invalid'; readonly message: string }

export type Operation =
  | { readonly operation: 'upsert'; readonly request: SetRequest }
  | { readonly operation: 'delete'; readonly key: string; readonly etag?: string | undefined }

const ATOI = /^[+-]?\d+$/

/** `ttlInSeconds` as in-memory parses it: Atoi; <= 0 means no expiry; garbage is an error. */
const parseTtl = (metadata: Readonly<Record<string, string>>): { ttl: number | undefined } | Failure => {
  const raw = metadata['ttlInSeconds']
  if (raw === undefined) return { ttl: undefined }
  if (!ATOI.test(raw) || !Number.isSafeInteger(Number(raw))) {
    return { kind: 'invalid', message: `ttlInSeconds: strconv.Atoi: parsing "${raw}": invalid syntax` }
  }
  const ttl = Number(raw)
  return { ttl: ttl > 0 ? ttl : undefined }
}

const checkOptions = (request: { concurrency?: string | undefined; consistency?: string | undefined }): Failure | undefined => {
  if (request.concurrency !== undefined && request.concurrency !== '' && request.concurrency !== 'first-write' && request.concurrency !== 'last-write') {
    return { kind: 'invalid', message: `unrecognized concurrency model '${request.concurrency}'` }
  }
  if (request.consistency !== undefined && request.consistency !== '' && request.consistency !== 'strong' && request.consistency !== 'eventual') {
    return { kind: 'invalid', message: `unrecognized consistency model '${request.consistency}'` }
  }
  return undefined
}

export interface StateStore {
  readonly get: (key: string) => Item | undefined
  readonly set: (request: SetRequest) => Failure | undefined
  readonly delete: (key: string, etag: string | undefined) => Failure | undefined
  readonly multi: (operations: ReadonlyArray<Operation>) => Failure | undefined
  /** Every live item, for assertions. */
  readonly entries: () => ReadonlyArray<readonly [string, Item]>
  /** Writes raw stored bytes directly, as another client (or Dapr itself) would have. */
  readonly seed: (key: string, data: string, ttlSeconds?: number) => void
  readonly clear: () => void
}

export const stateStore = (now: () => number): StateStore => {
  const items = new Map<string, Item>()

  const live = (key: string): Item | undefined => {
    const item = items.get(key)
    if (item === undefined) return undefined
    if (item.expiresAt !== undefined && now() > item.expiresAt) {
      items.delete(key)
      return undefined
    }
    return item
  }

  /** in-memory `doValidateEtag`: what a write or delete with this etag may do. */
  const validateEtag = (key: string, etag: string | undefined, concurrency: string | undefined): Failure | undefined => {
    const current = items.get(key) // the etag check does not look at expiry, as in Dapr
    const hasEtag = etag !== undefined && etag !== ''
    if (!hasEtag) {
      if (concurrency === 'first-write' && current !== undefined) {
        return { kind: 'etag-mismatch', message: `item already exists and no etag was passed` }
      }
      return undefined
    }
    if (current === undefined) return { kind: 'etag-mismatch', message: `state not exist or expired for key=${key}` }
    if (current.etag !== etag) {
      return { kind: 'etag-mismatch', message: `etag does not match for key=${key}` }
    }
    return undefined
  }

  const prepare = (request: SetRequest): { item: Item } | Failure => {
    const invalid = checkOptions(request)
    if (invalid !== undefined) return invalid
    const ttl = parseTtl(request.metadata)
    if ('kind' in ttl) return ttl
    const mismatch = validateEtag(request.key, request.etag, request.concurrency)
    if (mismatch !== undefined) return mismatch
    return { item: { data: request.data, etag: randomUUID(), expiresAt: ttl.ttl === undefined ? undefined : now() + ttl.ttl * 1000 } }
  }

  return {
    get: live,
    set: (request) => {
      const prepared = prepare(request)
      if ('kind' in prepared) return prepared
      items.set(request.key, prepared.item)
      return undefined
    },
    delete: (key, etag) => {
      const mismatch = validateEtag(key, etag, undefined)
      if (mismatch !== undefined) return mismatch
      items.delete(key)
      return undefined
    },
    multi: (operations) => {
      // Validate everything first, then apply everything: all or nothing.
      const writes: Array<readonly [string, Item | undefined]> = []
      for (const operation of operations) {
        if (operation.operation === 'upsert') {
          const prepared = prepare(operation.request)
          if ('kind' in prepared) return prepared
          writes.push([operation.request.key, prepared.item])
        } else {
          const mismatch = validateEtag(operation.key, operation.etag, undefined)
          if (mismatch !== undefined) return mismatch
          writes.push([operation.key, undefined])
        }
      }
      for (const [key, item] of writes) {
        if (item === undefined) items.delete(key)
        else items.set(key, item)
      }
      return undefined
    },
    entries: () => Array.from(items.keys()).flatMap((key) => {
      const item = live(key)
      return item === undefined ? [] : [[key, item] as const]
    }),
    seed: (key, data, ttlSeconds) => {
      items.set(key, { data, etag: randomUUID(), expiresAt: ttlSeconds === undefined || ttlSeconds <= 0 ? undefined : now() + ttlSeconds * 1000 })
    },
    clear: () => items.clear(),
  }
}
