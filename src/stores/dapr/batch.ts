/**
 * Reads batched as DataLoader batches them: the single-key reads asked for in one turn of the event
 * loop (or within `windowMs`) go out as one bulk read of the Dapr state API, and each caller gets
 * its own key's answer. A lone read goes out as a single GET, as without batching. A batch is sent
 * as soon as it holds `maxKeys` keys. When the sidecar has no bulk endpoint (404 or 405), the store
 * remembers it and reads key by key from then on.
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

/** A read of one key, batched with the others of its turn; `sent` is told of each single read (`bulk` tells of its own). */
export const batched = (
  single: (key: string) => Promise<Read>,
  bulk: BulkRead,
  options: BatchOptions = {},
  sent?: (keys: number) => void,
): ((key: string) => Promise<Read>) => {
  const windowMs = options.windowMs ?? 0
  const maxKeys = options.maxKeys ?? 100
  let bulkWorks = true
  let pending: Map<string, Array<(read: Read) => void>> | undefined

  const answer = (waiters: ReadonlyArray<(read: Read) => void>, read: Read): void => {
    waiters.forEach((resolve, index) => {
      // Each caller its own bytes: a second caller of one key gets a copy.
      resolve(index === 0 || read._tag === 'Left' || read.right._tag === 'None' ? read : { _tag: 'Right', right: { _tag: 'Some', value: read.right.value.slice() } })
    })
  }

  const send = async (batch: Map<string, Array<(read: Read) => void>>): Promise<void> => {
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

  return (key) =>
    new Promise<Read>((resolve) => {
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
