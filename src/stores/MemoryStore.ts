/**
 * An in-process `Store`: for development, tests, and as the near tier in front of a remote store.
 *
 * Values are kept as the serialized bytes the engine hands over (copied in and copied out), so a
 * value read from memory behaves exactly like one read from Dapr: nobody shares a mutable object.
 * It is bounded by entry count and by bytes, evicting entries not used recently first (a second-chance
 * approximation of least-recently-used that costs a read nothing but setting a flag), and
 * honours TTLs to the millisecond of its clock: an entry written at `t` with `ttlSeconds = n` is
 * readable while `now < t + n * 1000`. Expired entries are dropped lazily (no timers to leak).
 *
 * It does not share anything between processes, persist, or emulate Dapr's HTTP semantics (that is
 * the test sidecar's job, in `dapr-state-cache/testing`).
 *
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Clock } from '../Clock.js'
import { systemClock } from '../Clock.js'
import { toError } from '../errors.js'
import type { Store, StoreEntry, Versioned } from '../Store.js'
import type { Held, SecondChanceMap } from '../internal/secondChance.js'
import type { SyncReads, SyncWrites } from '../internal/sync.js'
import { withSyncCore } from '../internal/sync.js'
import { trust } from '../internal/guardedStore.js'
import { secondChanceMap } from '../internal/secondChance.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface MemoryStoreOptions {
  /** At most this many entries (default 10,000). */
  readonly maxEntries?: number | undefined
  /** At most this many bytes of keys and values together (default 64 MiB). */
  readonly maxBytes?: number | undefined
  /** The largest value it takes, in bytes (default 16 MiB); a larger one is an `E_CACHE_VALUE_TOO_LARGE` error. */
  readonly maxValueBytes?: number | undefined
  /** Time source for TTLs (default: the system clock). */
  readonly clock?: Clock | undefined
  /** A name for logs and metrics (default `"memory"`). */
  readonly name?: string | undefined
}

/**
 * @category model
 * @since 0.1.0
 */
export interface MemoryStore extends Store {
  readonly readNow: NonNullable<Store['readNow']>
  readonly writeNow: NonNullable<Store['writeNow']>
  /** How many entries and bytes are held now (expired entries not yet dropped included). */
  readonly usage: () => { readonly entries: number; readonly bytes: number }
  /** Drops everything. */
  readonly clear: () => void
}

interface Entry extends Held {
  readonly bytes: Uint8Array
  /** Its version, for `getVersioned`, `setIf` and `deleteIf`: every write makes a new one. */
  readonly version: number
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

const DEFAULT_MAX_ENTRIES = 10_000
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024

const positiveInteger = (option: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw toError(CE.invalidOptions(option, value, 'a positive integer'))
  }
  return value
}

const right = <A>(a: A): Promise<E.Either<CacheError, A>> => Promise.resolve(E.right(a))

const NONE: E.Either<CacheError, O.Option<Uint8Array>> = E.right(O.none)
const DONE: E.Either<CacheError, void> = E.right(undefined)

/** The work of one memory store, on its entries (a class: see `internal/sync.ts`). */
class Memory implements SyncReads, SyncWrites {
  readonly entries: SecondChanceMap<Entry>
  private versions = 0

  constructor(
    maxEntries: number,
    private readonly maxBytes: number,
    private readonly maxValueBytes: number,
    private readonly clock: Clock,
  ) {
    this.entries = secondChanceMap<Entry>({ maxEntries, maxBytes, clock })
  }

  readNow(key: string): E.Either<CacheError, O.Option<Uint8Array>> {
    const entry = this.entries.get(key)
    return entry === undefined ? NONE : E.right(O.some(entry.bytes.slice()))
  }

  /** `writeNow` is handed the array; `keep` with `copy` copies it (for `set`, whose caller may change it). */
  writeNow(key: string, value: Uint8Array, ttlSeconds: number): E.Either<CacheError, void> {
    return this.keep(key, value, ttlSeconds, false)
  }

  keep(key: string, value: Uint8Array, ttlSeconds: number, copy: boolean): E.Either<CacheError, void> {
    const length = value.byteLength
    const refused = this.refusal(key, length, ttlSeconds)
    if (refused !== undefined) return E.left(refused)
    this.entries.set(key, { bytes: copy ? value.slice() : value, version: ++this.versions, expiresAt: this.clock.now() + ttlSeconds * 1000, size: key.length + length, used: false })
    return DONE
  }

  /** Why an entry of `length` bytes cannot be kept; undefined when it can. */
  refusal(key: string, length: number, ttlSeconds: number): CacheError | undefined {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) return CE.invalidOptions('ttlSeconds', ttlSeconds, 'a positive integer')
    if (length > this.maxValueBytes) return CE.valueTooLarge('write', length, this.maxValueBytes, { key })
    const size = key.length + length
    if (size > this.maxBytes) return CE.storeRejected(0, `entry of ${size} bytes is larger than the memory store's maxBytes (${this.maxBytes})`, { key })
    return undefined
  }
}

/**
 * A bounded, LRU, TTL-honouring in-memory store. Options are checked here; a bad one throws a
 * `CacheOptionsError` naming it.
 *
 * @category constructors
 * @since 0.1.0
 */
export const memoryStore = (options: MemoryStoreOptions = {}): MemoryStore => {
  const maxEntries = positiveInteger('maxEntries', options.maxEntries, DEFAULT_MAX_ENTRIES)
  const maxBytes = positiveInteger('maxBytes', options.maxBytes, DEFAULT_MAX_BYTES)
  const maxValueBytes = positiveInteger('maxValueBytes', options.maxValueBytes, 16 * 1024 * 1024)
  const clock = options.clock ?? systemClock
  const name = options.name ?? 'memory'

  const memory = new Memory(maxEntries, maxBytes, maxValueBytes, clock)
  const entries = memory.entries

  const readNow = (key: string): E.Either<CacheError, O.Option<Uint8Array>> => memory.readNow(key)
  const get = (key: string): TE.TaskEither<CacheError, O.Option<Uint8Array>> => () => Promise.resolve(memory.readNow(key))
  const writeNow = (key: string, value: Uint8Array, ttlSeconds: number): E.Either<CacheError, void> => memory.writeNow(key, value, ttlSeconds)
  const set = (key: string, value: Uint8Array, ttlSeconds: number): TE.TaskEither<CacheError, void> => () =>
    Promise.resolve(memory.keep(key, value, ttlSeconds, true))

  const create =
    (key: string, value: Uint8Array, ttlSeconds: number): TE.TaskEither<CacheError, boolean> =>
    () => {
      const present = readNow(key)
      if (E.isRight(present) && O.isSome(present.right)) return right(false)
      const stored = memory.keep(key, value, ttlSeconds, true)
      return Promise.resolve(E.isLeft(stored) ? stored : E.right(true))
    }

  const getVersioned = (key: string): TE.TaskEither<CacheError, O.Option<Versioned>> => () => {
    const entry = entries.get(key)
    return right(entry === undefined ? O.none : O.some({ value: entry.bytes.slice(), etag: String(entry.version) }))
  }

  const setIf =
    (key: string, value: Uint8Array, ttlSeconds: number, etag: string | undefined): TE.TaskEither<CacheError, boolean> =>
    () => {
      const entry = entries.get(key)
      if (etag === undefined ? entry !== undefined : entry === undefined || String(entry.version) !== etag) return right(false)
      const stored = memory.keep(key, value, ttlSeconds, true)
      return Promise.resolve(E.isLeft(stored) ? stored : E.right(true))
    }

  const deleteIf = (key: string, etag: string): TE.TaskEither<CacheError, boolean> => () => {
    const entry = entries.get(key)
    if (entry === undefined || String(entry.version) !== etag) return right(false)
    entries.delete(key)
    return right(true)
  }

  /** All or nothing: an entry that cannot be kept refuses the lot. */
  const setMany = (stored: ReadonlyArray<StoreEntry>): TE.TaskEither<CacheError, void> => () => {
    for (const { key, value, ttlSeconds } of stored) {
      const refused = memory.refusal(key, value.byteLength, ttlSeconds)
      if (refused !== undefined) return Promise.resolve(E.left(refused))
    }
    for (const { key, value, ttlSeconds } of stored) memory.keep(key, value, ttlSeconds, true)
    return right(undefined)
  }

  const getMany = (keys: ReadonlyArray<string>): TE.TaskEither<CacheError, ReadonlyArray<E.Either<CacheError, O.Option<Uint8Array>>>> => () =>
    right(keys.map(readNow))

  const del = (key: string): TE.TaskEither<CacheError, void> => () => {
    entries.delete(key)
    return right(undefined)
  }

  const deleteMany = (keys: ReadonlyArray<string>): TE.TaskEither<CacheError, void> => () => {
    for (const key of keys) entries.delete(key)
    return right(undefined)
  }

  const store = trust({
    name,
    deleteMany,
    get,
    readNow,
    set,
    writeNow,
    setMany,
    getMany,
    delete: del,
    create,
    getVersioned,
    setIf,
    deleteIf,
    close: () => Promise.resolve(),
    usage: () => ({ entries: entries.size(), bytes: entries.bytes() }),
    clear: () => entries.clear(),
  })
  return withSyncCore(store, memory)
}
