/**
 * The companion entry of a value: `<key>:meta`, in the library's own key space (the Python library
 * never reads it), written next to the value by pipelines with fail-safe or refresh ahead.
 *
 * It says when the value was written, for how long (the TTL on the wire, jitter included) and how
 * long its computation took, and, with fail-safe, holds a copy of the value's bytes that outlives the
 * value by `maxStaleSeconds`. The value key itself, its bytes and its TTL stay exactly what the Python
 * library reads and writes: a stale value is only ever served from here, never written back there.
 * The age of an entry comes from here too, not from the store (Redis reports no `ttlExpireTime`).
 *
 * Format: a MessagePack array `[1, writtenAtMs, ttlSeconds, computeMs, bytes | null]`.
 */
import { decode, encode } from '@msgpack/msgpack'

/**
 * What a value's companion entry says of it.
 *
 * @category model
 * @since 0.3.0
 */
export interface EntryMeta {
  /** Epoch milliseconds (of the pipeline's clock) when the value was written. */
  readonly writtenAt: number
  /** The value's TTL on the wire, in seconds. */
  readonly ttlSeconds: number
  /** How long the computation that made the value took, in milliseconds. */
  readonly computeMs: number
  /** The value's bytes, kept with fail-safe for serving stale; absent otherwise. */
  readonly bytes: Uint8Array | undefined
}

const VERSION = 1

/** The companion key of a value key. */
export const metaKey = (key: string): string => `${key}:meta`

/** When the value the entry describes expires, in epoch milliseconds. */
export const expiresAt = (meta: EntryMeta): number => meta.writtenAt + meta.ttlSeconds * 1000

export const encodeMeta = (meta: EntryMeta): Uint8Array => encode([VERSION, meta.writtenAt, meta.ttlSeconds, meta.computeMs, meta.bytes ?? null])

const isNumber = (u: unknown): u is number => typeof u === 'number' && Number.isFinite(u)

/** The entry in `bytes`, or undefined when they are not one (another version, or damaged). */
export const decodeMeta = (bytes: Uint8Array): EntryMeta | undefined => {
  let decoded: unknown
  try {
    decoded = decode(bytes)
  } catch {
    return undefined
  }
  if (!Array.isArray(decoded) || decoded.length !== 5 || decoded[0] !== VERSION) return undefined
  const [, writtenAt, ttlSeconds, computeMs, copy] = decoded as ReadonlyArray<unknown>
  if (!isNumber(writtenAt) || !isNumber(ttlSeconds) || !isNumber(computeMs)) return undefined
  if (copy !== null && !(copy instanceof Uint8Array)) return undefined
  return { writtenAt, ttlSeconds, computeMs, bytes: copy === null ? undefined : copy }
}
