/**
 * The storage capability the engine runs on: bytes in, bytes out, with a time to live.
 *
 * A `Store` knows nothing of keys' meaning, values' types or metrics; it moves opaque bytes. Every
 * operation is a `TaskEither` whose left side is a `CacheError` value; a store never throws and never
 * rejects. (A store of your own that does anyway does not break a call: the engine takes the throw or
 * the rejection as a `ConnectionError` naming the store and the method, and runs the call uncached.)
 * Interpreters: `daprStore` (a Dapr state store over HTTP) and `memoryStore` (in-process);
 * `withBreaker` wraps any of them.
 * Every interpreter passes the same conformance suite (`test/storeConformance.ts`).
 *
 * @since 0.1.0
 */
import type * as E from 'fp-ts/lib/Either.js'
import type * as O from 'fp-ts/lib/Option.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from './CacheError.js'

/**
 * One value to store, for `setMany`.
 *
 * @category model
 * @since 0.3.0
 */
export interface StoreEntry {
  readonly key: string
  readonly value: Uint8Array
  /** A positive integer number of seconds. */
  readonly ttlSeconds: number
}

/**
 * Stored bytes with their version, for `getVersioned`.
 * @category model
 * @since 0.5.0
 */
export interface Versioned {
  readonly value: Uint8Array
  /** Opaque: give it back to `setIf` or `deleteIf`. */
  readonly etag: string
}

/**
 * @category model
 * @since 0.1.0
 */
export interface Store {
  /** A short name for logs and metrics (`"memory"`, the Dapr store's name, ...). */
  readonly name: string
  /** The bytes stored under `key`, or none when absent or expired. */
  readonly get: (key: string) => TE.TaskEither<CacheError, O.Option<Uint8Array>>
  /**
   * Optional, for in-process stores: the same read, answered at once. The engine serves a hit from
   * it without any asynchronous step; everything else still goes through `get`.
   */
  readonly readNow?: (key: string) => E.Either<CacheError, O.Option<Uint8Array>>
  /** Stores `value` under `key` for `ttlSeconds` (a positive integer) seconds. */
  readonly set: (key: string, value: Uint8Array, ttlSeconds: number) => TE.TaskEither<CacheError, void>
  /**
   * Optional, for in-process stores: the same write as `set`, done at once, and `value` is handed
   * over (the store may keep the array itself; the caller never changes it afterwards). With it (and
   * `readNow`), a miss of a synchronous function completes in the tick it began, with no asynchronous
   * step. The engine writes through it the bytes its serializer just made.
   */
  readonly writeNow?: (key: string, value: Uint8Array, ttlSeconds: number) => E.Either<CacheError, void>
  /**
   * Optional: stores several entries in one round trip (Dapr's multi-item save; not atomic: a
   * failure says that some may not have been stored). The engine uses it for a value and its
   * companion entry.
   */
  readonly setMany?: (entries: ReadonlyArray<StoreEntry>) => TE.TaskEither<CacheError, void>
  /**
   * Optional: reads several keys in one round trip (Dapr's bulk get), each answer in the order of
   * `keys`, each with its own failure. `Left` when the whole request failed.
   */
  readonly getMany?: (keys: ReadonlyArray<string>) => TE.TaskEither<CacheError, ReadonlyArray<E.Either<CacheError, O.Option<Uint8Array>>>>
  /** Removes `key`; succeeds whether or not it was there. */
  readonly delete: (key: string) => TE.TaskEither<CacheError, void>
  /** Optional: removes several keys in one round trip (Dapr's transaction of deletes). */
  readonly deleteMany?: (keys: ReadonlyArray<string>) => TE.TaskEither<CacheError, void>
  /**
   * Optional, for leases: stores `value` under `key` only if no entry is there (Dapr's `first-write`
   * concurrency), for `ttlSeconds`. Right(true): stored; Right(false): an entry was there. The engine
   * uses it on its own key space only, never on value keys. Without it, single flight is per process.
   */
  readonly create?: (key: string, value: Uint8Array, ttlSeconds: number) => TE.TaskEither<CacheError, boolean>
  /** Optional: whether `create` works on this backend (a Dapr component must report ETAG). Asked once. */
  readonly supportsCreate?: () => Promise<boolean>
  /**
   * Optional, for the library's own records (tag indexes), never value keys: the bytes under `key`
   * with their version (Dapr's ETag), or none.
   */
  readonly getVersioned?: (key: string) => TE.TaskEither<CacheError, O.Option<Versioned>>
  /**
   * Optional, with `getVersioned`: stores `value` only if the entry is still at `etag` (undefined:
   * only if there is none), for `ttlSeconds`. Right(false): it was not (another writer came first).
   */
  readonly setIf?: (key: string, value: Uint8Array, ttlSeconds: number, etag: string | undefined) => TE.TaskEither<CacheError, boolean>
  /** Optional, with `getVersioned`: removes `key` only if it is still at `etag`. Right(false): it was not, or it is gone. */
  readonly deleteIf?: (key: string, etag: string) => TE.TaskEither<CacheError, boolean>
  /** Releases what the store holds (sockets, timers). Optional; idempotent where present. */
  readonly close?: () => Promise<void>
}
