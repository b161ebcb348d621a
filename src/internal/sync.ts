/**
 * A store's synchronous reads and writes (`Store.readNow`, `Store.writeNow`), as the engine calls
 * them: through an object whose methods every store of a kind shares.
 *
 * Why not the store's own functions: V8 optimizes the engine's code for the functions it sees it
 * call, and a store made of closures brings new functions with every store. Once the store that the
 * code was optimized for is gone, the code is thrown away and optimized again for the next one, and
 * an app (or a benchmark) that makes caches and drops them keeps paying for it. The memory store
 * therefore does its work in a class and hands it here; any other store's functions are called
 * through a small class of their own (its own functions still vary, its caller does not).
 */
import type * as E from 'fp-ts/lib/Either.js'
import type * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../CacheError.js'
import type { Store } from '../Store.js'

/** What `Store.readNow` does. */
export interface SyncReads {
  readNow(key: string): E.Either<CacheError, O.Option<Uint8Array>>
}

/** What `Store.writeNow` does. */
export interface SyncWrites {
  writeNow(key: string, value: Uint8Array, ttlSeconds: number): E.Either<CacheError, void>
}

/** Where a store made here keeps the object that does its synchronous work. */
const CORE = Symbol('dapr-state-cache/sync')

interface Core {
  readonly does: SyncReads & SyncWrites
  /** The store's own functions when it was made: a store whose function was since replaced is called through that. */
  readonly readNow: Store['readNow']
  readonly writeNow: Store['writeNow']
}

type WithCore = Store & { readonly [CORE]?: Core }

/**
 * Records that `store`'s synchronous calls are `does`'s. Not enumerable: a copy made by spreading the
 * store (to override some of its functions) does not carry it, and is called through its own.
 */
export const withSyncCore = <S extends Store>(store: S, does: SyncReads & SyncWrites): S =>
  Object.defineProperty(store, CORE, { value: { does, readNow: store.readNow, writeNow: store.writeNow } satisfies Core })

class Reads implements SyncReads {
  constructor(
    private readonly store: Store,
    private readonly read: NonNullable<Store['readNow']>,
  ) {}

  readNow(key: string): E.Either<CacheError, O.Option<Uint8Array>> {
    return this.read.call(this.store, key)
  }
}

class Writes implements SyncWrites {
  constructor(
    private readonly store: Store,
    private readonly write: NonNullable<Store['writeNow']>,
  ) {}

  writeNow(key: string, value: Uint8Array, ttlSeconds: number): E.Either<CacheError, void> {
    return this.write.call(this.store, key, value, ttlSeconds)
  }
}

/** How to read `store` synchronously, if it can. */
export const syncReads = (store: Store): SyncReads | undefined => {
  const core = (store as WithCore)[CORE]
  const read = store.readNow
  if (read === undefined) return undefined
  return core !== undefined && core.readNow === read ? core.does : new Reads(store, read)
}

/** How to write to `store` synchronously, if it can. */
export const syncWrites = (store: Store): SyncWrites | undefined => {
  const core = (store as WithCore)[CORE]
  const write = store.writeNow
  if (write === undefined) return undefined
  return core !== undefined && core.writeNow === write ? core.does : new Writes(store, write)
}
