/**
 * The `DaprStore`'s wire format, the Python library's: the body of a save (the value as the base64
 * of its bytes in a JSON string, the TTL as a string), the bytes of an answer, percent-encoded path
 * segments, and a non-2xx answer as a `StoreRejected` with Dapr's `errorCode`.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError } from '../../CacheError.js'
import * as CE from '../../CacheError.js'
import type { StoreEntry } from '../../Store.js'

// -------------------------------------------------------------------------------------
// wire format
// -------------------------------------------------------------------------------------

/** A cheap first look; the decoded length is the real check. */
const isBase64 = (text: string): boolean => text.length % 4 === 0 && !text.slice(0, -2).includes('=')

/** The request body Dapr expects for a save: the value as a base64 JSON string, the TTL as a string. */
export const saveBody = (key: string, value: Uint8Array, ttlSeconds: number, firstWrite = false, etag?: string): string =>
  saveItems([{ key, value, ttlSeconds }], firstWrite, etag)

/**
 * The body of a save of several entries: one item each, as `saveBody` writes one. Written by hand,
 * the text `JSON.stringify` would write: base64 needs no escaping, and scanning a large value's
 * base64 for characters to escape cost more than encoding it (3.7 ms of a 1 MB value's miss).
 */
export const saveItems = (entries: ReadonlyArray<StoreEntry>, firstWrite = false, etag?: string): string => {
  const rest = `${etag === undefined ? '' : `,"etag":${JSON.stringify(etag)}`}${firstWrite ? ',"options":{"concurrency":"first-write"}' : ''}`
  const items = entries.map(({ key, value, ttlSeconds }) => {
    const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    return `{"key":${JSON.stringify(key)},"value":"${base64}"${rest},"metadata":{"ttlInSeconds":${JSON.stringify(String(ttlSeconds))}}}`
  })
  return `[${items.join(',')}]`
}

/**
 * Whether a refused `first-write` save means "an entry is there": 409 (the in-memory component and
 * most others), Redis's 500 ERR_STATE_SAVE from its set script (a first-write record is there), or
 * PostgreSQL's (v2) 500 ERR_STATE_SAVE "no item was updated" (its upsert left a live row alone).
 */
export const isFirstWriteConflict = (status: number, body: string): boolean => {
  if (status === 409) return true
  if (status !== 500) return false
  try {
    const parsed = JSON.parse(body) as { errorCode?: unknown; message?: unknown }
    return parsed.errorCode === 'ERR_STATE_SAVE' && typeof parsed.message === 'string' && /failed to set key .*user_script|no item was updated/.test(parsed.message)
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
export const decodeValue = (parsed: unknown, key: string): E.Either<CacheError, Uint8Array> => {
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

/**
 * One path segment: percent-encoded, and `.` or `..` with their dots escaped too, since the sidecar
 * cleans the path (resolving `..`) before it decodes the segments.
 */
export const pathSegment = (value: string): string =>
  value === '.' || value === '..' ? value.replace(/\./g, '%2E') : encodeURIComponent(value)
