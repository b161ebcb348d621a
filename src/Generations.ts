/**
 * Invalidation that wins across replicas, without a lease: each key has a generation, a random token
 * under `<key>:gen`, which `invalidate` writes anew before it deletes the value. A computation reads
 * the generation before it starts and again after its write, and deletes what it wrote if it
 * changed. So a load that was under way on another replica when `invalidate` was called (its source
 * read before the change) cannot leave its old value in the store once both are done
 * (docs/replicas.md has the argument, the window and the cost).
 *
 * The lease (`withLease`) brings generations with it; this step gives them to a pipeline that has no
 * lease. Only `<key>:gen` is a new key: the value key and its bytes stay what the Python library
 * reads and writes.
 *
 * @since 0.4.0
 */
import { randomBytes } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'
import type { Generations } from './internal/parts.js'
import type { Store } from './Store.js'

export type { Generations } from './internal/parts.js'

/** The generation key of a value key: the library's own key space, never a value key. */
export const generationKey = (key: string): string => `${key}:gen`

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * The generations of one cached function's keys over `store`. A generation lives as long as the
 * entry it guards, and at least `minTtlSeconds` (default 60): a computation that began before an
 * invalidation and ends after its generation expired could not tell it happened.
 *
 * @category constructors
 * @since 0.4.0
 */
export const generations = (store: Store, minTtlSeconds = 60): Generations => ({
  read: async (key) => {
    const found = await store.get(generationKey(key))()
    return E.isLeft(found) ? found : E.right(O.isSome(found.right) ? Buffer.from(found.right.value).toString('hex') : undefined)
  },
  bump: (key, ttlSeconds) => store.set(generationKey(key), randomBytes(12), Math.max(ttlSeconds, minTtlSeconds)),
})

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * An invalidation on any replica wins over a computation under way on another, without a lease: a
 * miss reads the key's generation before computing, before writing and after writing (three reads
 * more), an invalidation writes a new one before deleting (one write more). `withLease` includes it.
 *
 * @category combinators
 * @since 0.4.0
 */
export const withGenerations = (): Step => step('withGenerations', () => ({ generations: (store) => generations(store) }))
