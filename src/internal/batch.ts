/**
 * One `many` call's reads and writes (its batch), shared by its lookups: every lookup's first read goes out in
 * one bulk read (the store's `getMany`), and the values computed for its misses in one bulk save
 * (`setMany`), in chunks a sidecar takes.
 *
 * The reads are asked for while the lookups begin, all in one tick; `flushReads` sends them. A write
 * waits until every lookup of the batch is done, is waiting to write, or is waiting on another
 * replica (for the lease holder's value), and at most `LINGER_MS`: then all the waiting writes go
 * out together. A lookup waiting on another replica must not hold the writes up: that replica may be
 * waiting for one of them (each holding a lease the other wants), and neither would move until the
 * lease expired. Nor may a slow computation: the writes waiting for it may hold leases other
 * replicas wait on, and their values would reach the store only when the slowest was done.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../CacheError.js'
import type { Store, StoreEntry } from '../Store.js'

/** A read's answer: the bytes, none, or why not. */
type Read = E.Either<CacheError, O.Option<Uint8Array>>

/** How long a write waits for the batch's other writes, at most. */
const LINGER_MS = 5

/** The most entries, and about the most bytes of values, in one bulk save. */
const MAX_ENTRIES = 100
const MAX_BYTES = 1024 * 1024

type Stored = E.Either<CacheError, void>

interface QueuedWrite {
  readonly entries: ReadonlyArray<StoreEntry>
  /** Each entry's result, in order (one bulk save's result stands for all its entries). */
  readonly resolve: (stored: ReadonlyArray<Stored>) => void
}

export class Batch {
  private reads: Map<string, Array<(read: Read) => void>> | undefined = new Map()
  private writes: Array<QueuedWrite> = []
  /** Lookups begun with this batch and not yet done. */
  private open = 0
  /** Of those, how many wait on another replica now. */
  private parked = 0
  /** Sends the waiting writes when they have waited `LINGER_MS`. */
  private linger: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly store: Store) {}

  /** The first read of `key` for a lookup of the batch: answered when the bulk read is. */
  read(key: string): Promise<Read> {
    return new Promise<Read>((resolve) => {
      if (this.reads === undefined) {
        // A lookup that began late (behind a wrapper that waited first): read with the others of its turn.
        this.reads = new Map()
        setImmediate(() => this.flushReads())
      }
      const waiters = this.reads.get(key)
      if (waiters === undefined) this.reads.set(key, [resolve])
      else waiters.push(resolve)
    })
  }

  /** Sends the reads asked for so far: one bulk read (a single read for one key). */
  flushReads(): void {
    const reads = this.reads
    this.reads = undefined
    if (reads === undefined || reads.size === 0) return
    const keys = [...reads.keys()]
    const answer = (key: string, read: Read): void => {
      for (const resolve of reads.get(key) ?? []) resolve(read)
    }
    const getMany = this.store.getMany
    if (keys.length === 1 || getMany === undefined) {
      for (const key of keys) void this.store.get(key)().then((read) => answer(key, read))
      return
    }
    void getMany(keys)().then((answered) => {
      keys.forEach((key, index) => answer(key, E.isLeft(answered) ? answered : (answered.right[index] ?? E.right(O.none))))
    })
  }

  /** Writes `entries` (a value, and its companion entry) with the other writes of the batch: each one's result. */
  write(entries: ReadonlyArray<StoreEntry>): Promise<ReadonlyArray<Stored>> {
    return new Promise<ReadonlyArray<Stored>>((resolve) => {
      this.writes.push({ entries, resolve })
      this.check()
    })
  }

  /** A lookup of the batch began; `work` is its outcome. */
  track(work: Promise<unknown>): void {
    this.open++
    const done = (): void => {
      this.open--
      this.check()
    }
    work.then(done, done)
  }

  /** A lookup waits on another replica while `waiting` runs: the batch's writes do not wait for it. */
  async parkedWhile<A>(waiting: Promise<A>): Promise<A> {
    this.parked++
    this.check()
    try {
      return await waiting
    } finally {
      this.parked--
    }
  }

  /** Sends the waiting writes once nothing else of the batch can still add one. */
  private check(): void {
    if (this.writes.length === 0) return
    if (this.writes.length + this.parked < this.open) {
      this.linger ??= setTimeout(() => this.flushWrites(), LINGER_MS)
      return
    }
    this.flushWrites()
  }

  private flushWrites(): void {
    if (this.linger !== undefined) clearTimeout(this.linger)
    this.linger = undefined
    const writes = this.writes
    this.writes = []
    for (const chunk of chunks(writes)) void this.send(chunk)
  }

  private async send(writes: ReadonlyArray<QueuedWrite>): Promise<void> {
    const setMany = this.store.setMany
    const entries = writes.flatMap((queued) => queued.entries)
    if (setMany === undefined || entries.length === 1) {
      // One entry, or a store without bulk saves: each write on its own, side by side.
      await Promise.all(
        writes.map(async (queued) => queued.resolve(await Promise.all(queued.entries.map((entry) => this.store.set(entry.key, entry.value, entry.ttlSeconds)())))),
      )
      return
    }
    const stored = await setMany(entries)()
    if (E.isLeft(stored) && writes.length > 1 && refusedByContent(stored.left)) {
      // One entry the store refused (too large, say) must not cost the others theirs: each alone.
      await Promise.all(writes.map((queued) => this.send([queued])))
      return
    }
    for (const queued of writes) queued.resolve(queued.entries.map(() => stored))
  }
}

/**
 * A bulk save refused for what it held rather than because the store could not be reached: the
 * store (or the sidecar) answered, or the request was never sent for its size. Sent again write by
 * write; a store that is down is not asked once per value.
 */
const refusedByContent = (error: CacheError): boolean =>
  error._tag === 'ValueTooLarge' || error._tag === 'StoreRejected' || error._tag === 'SerializationError' || error._tag === 'InvalidOptions'

/** The writes in groups a bulk save takes: at most MAX_ENTRIES entries and about MAX_BYTES of values each. */
const chunks = (writes: ReadonlyArray<QueuedWrite>): ReadonlyArray<ReadonlyArray<QueuedWrite>> => {
  const groups: Array<Array<QueuedWrite>> = []
  let group: Array<QueuedWrite> = []
  let entries = 0
  let bytes = 0
  for (const queued of writes) {
    const size = queued.entries.reduce((sum, entry) => sum + entry.value.byteLength, 0)
    if (group.length > 0 && (entries + queued.entries.length > MAX_ENTRIES || bytes + size > MAX_BYTES)) {
      groups.push(group)
      group = []
      entries = 0
      bytes = 0
    }
    group.push(queued)
    entries += queued.entries.length
    bytes += size
  }
  if (group.length > 0) groups.push(group)
  return groups
}
