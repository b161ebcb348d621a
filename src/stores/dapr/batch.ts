/**
 * Reads batched as DataLoader batches them: the single-key reads asked for in one turn of the event
 * loop (or within `windowMs`) go out as one bulk read of the Dapr state API, and each caller gets
 * its own key's answer. A lone read goes out as a single GET, as without batching. A batch is sent
 * as soon as it holds `maxKeys` keys. When the sidecar has no bulk endpoint (404 or 405), the store
 * remembers it and reads key by key from then on.
 *
 * A bulk answer costs daprd more per byte than single answers do (it re-encodes every value into one
 * JSON list), so a bulk read carries about `BULK_BYTES` of values at most: the reads learn how large
 * the answers are (a running mean per key read, a miss counting 0) and split a batch of large values
 * into several smaller bulk reads, side by side, down to single GETs.
 */
import type * as E from 'fp-ts/lib/Either.js'
import type * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../../CacheError.js'

export type Read = E.Either<CacheError, O.Option<Uint8Array>>

/** A bulk read's answers by key, or `'unsupported'` when the sidecar has no bulk endpoint. */
export type BulkRead = (keys: ReadonlyArray<string>) => Promise<E.Either<CacheError, ReadonlyMap<string, Read>> | 'unsupported'>

/**
 * How the Dapr store batches reads (its `batch` option).
 *
 * @category model
 * @since 0.5.0
 */
export interface BatchOptions {
  /** How long a batch waits for more keys: 0 (the default) until the end of the turn, or up to 1 ms. */
  readonly windowMs?: number | undefined
  /** The most keys in one bulk read (default 100). */
  readonly maxKeys?: number | undefined
}

/**
 * About the most bytes of values one bulk read should bring. Measured on real daprd with Redis, 16
 * callers each reading a key at a time: bulk reads of 16 keys were 2x single GETs at 1 kB values,
 * 1.2x at 4 kB (bulk reads of 4 or 8 keys: 1.3-1.8x), and lost to them from 10 kB (0.85x; 0.44x at
 * 50 kB). Past this, values are read key by key.
 */
export const BULK_BYTES = 16 * 1024

/** How much one key's answer moves the running mean of answer sizes. */
const LEARNING_RATE = 0.1

/** What a store's reads learnt of its values' sizes: how many keys one bulk read should take. */
export interface AnswerSizes {
  /** Takes note of one key's answer (a miss counts 0 bytes); gives it back. */
  readonly learn: (read: Read) => Read
  /** Keys per bulk read now: about `BULK_BYTES` of values, from 1 to `maxKeys`. */
  readonly keysPerRequest: () => number
}

export const answerSizes = (maxKeys: number): AnswerSizes => {
  /** The running mean of the bytes one key's answer brought. */
  let bytesPerKey = 0
  return {
    learn: (read) => {
      if (read._tag === 'Right') bytesPerKey += ((read.right._tag === 'Some' ? read.right.value.byteLength : 0) - bytesPerKey) * LEARNING_RATE
      return read
    },
    keysPerRequest: () => Math.max(1, Math.min(maxKeys, Math.floor(BULK_BYTES / Math.max(bytesPerKey, 1)))),
  }
}

/** A read of one key, batched with the others of its turn; `sent` is told of each single read (`bulk` tells of its own). */
export const batched = (
  single: (key: string) => Promise<Read>,
  bulk: BulkRead,
  options: BatchOptions = {},
  sent?: (keys: number) => void,
  sizes: AnswerSizes = answerSizes(options.maxKeys ?? 100),
): ((key: string) => Promise<Read>) => {
  const windowMs = options.windowMs ?? 0
  const maxKeys = options.maxKeys ?? 100
  let bulkWorks = true
  let pending: Map<string, Array<(read: Read) => void>> | undefined
  const { learn, keysPerRequest: perRequest } = sizes
  /** The same answer in bytes of its own, for a second caller of one key. */
  const copy = (read: Read): Read => (read._tag === 'Left' || read.right._tag === 'None' ? read : { _tag: 'Right', right: { _tag: 'Some', value: read.right.value.slice() } })

  const answer = (waiters: ReadonlyArray<(read: Read) => void>, read: Read): void => {
    learn(read)
    // Each caller its own bytes: a second caller of one key gets a copy.
    waiters.forEach((resolve, index) => resolve(index === 0 ? read : copy(read)))
  }

  const send = async (batch: Map<string, Array<(read: Read) => void>>): Promise<void> => {
    const size = perRequest()
    if (batch.size > size && bulkWorks) {
      // Large values: the batch in parts of about BULK_BYTES, side by side.
      const entries = [...batch]
      const parts: Array<Promise<void>> = []
      for (let i = 0; i < entries.length; i += size) parts.push(send(new Map(entries.slice(i, i + size))))
      await Promise.all(parts)
      return
    }
    if (batch.size === 1 || !bulkWorks) {
      await Promise.all(
        [...batch].map(async ([key, waiters]) => {
          sent?.(1)
          answer(waiters, await single(key))
        }),
      )
      return
    }
    const keys = [...batch.keys()]
    const answered = await bulk(keys)
    if (answered === 'unsupported') {
      bulkWorks = false
      await send(batch)
      return
    }
    for (const [key, waiters] of batch) {
      if (answered._tag === 'Left') answer(waiters, answered)
      else answer(waiters, answered.right.get(key) as Read)
    }
  }

  const flush = (): void => {
    const batch = pending
    pending = undefined
    if (batch !== undefined) void send(batch)
  }

  /** The reads of this turn that went out at once, by key: a key asked again in the turn is read once. */
  let alone: Map<string, Promise<Read>> | undefined

  return (key) => {
    if (pending === undefined && (perRequest() === 1 || !bulkWorks)) {
      // Values too large to share a bulk read, or no bulk endpoint: nothing to wait for.
      const underway = alone?.get(key)
      // Each caller its own bytes: a second caller of one key gets a copy.
      if (underway !== undefined) return underway.then(copy)
      if (alone === undefined) {
        const turn = new Map<string, Promise<Read>>()
        alone = turn
        setImmediate(() => {
          if (alone === turn) alone = undefined
        })
      }
      sent?.(1)
      const reading = single(key).then(learn)
      alone.set(key, reading)
      return reading
    }
    return new Promise<Read>((resolve) => {
      if (pending === undefined) {
        pending = new Map()
        if (windowMs > 0) setTimeout(flush, windowMs)
        else setImmediate(flush)
      }
      const waiters = pending.get(key)
      if (waiters !== undefined) waiters.push(resolve)
      else pending.set(key, [resolve])
      if (pending.size >= maxKeys) flush()
    })
  }
}
