/**
 * The bounded map behind the in-process caches (the memory store and the in-process tier): bounded
 * by entry count and by bytes, with expiry checked lazily against the caller's clock (no timers).
 *
 * Eviction is second chance (the CLOCK algorithm), an approximation of least recently used that costs
 * a read nothing but setting a flag. A hand goes round the entries in insertion order (a live Map
 * iterator, which sees insertions and deletions and resumes where it stopped): an entry read since the
 * hand last passed it (and not expired) has its mark cleared and is kept, and the first one that was
 * not is dropped. A new entry is made room for before it goes in. The hand never starts over from the
 * oldest insertion, so a full map evicts in constant time per entry, however many it holds.
 */
import type { Clock } from '../Clock.js'

export interface Held {
  /** Counted against `maxBytes`. */
  readonly size: number
  /** Epoch milliseconds from which the entry is gone. */
  readonly expiresAt: number
  /** Read since it was last considered for eviction. */
  used: boolean
}

export interface SecondChanceMap<V extends Held> {
  /** The live entry for `key` (marked as used), or undefined; an expired one is dropped. */
  get(key: string): V | undefined
  /** Puts `entry` under `key` (replacing what was there), after making room for it. */
  set(key: string, entry: V): void
  delete(key: string): void
  clear(): void
  /** Entries held now (expired ones not yet dropped included). */
  size(): number
  bytes(): number
}

/** A class, so that every store and tier shares its code (see `engine.ts`). */
class Clockwise<V extends Held> implements SecondChanceMap<V> {
  private readonly entries = new Map<string, V>()
  private held = 0
  private hand: Iterator<[string, V]> | undefined = undefined
  // A key known to be absent: the last one `get` missed, until anything is set. A write that follows
  // a missed read (a cold miss) then need not look for an entry to replace.
  private absent: string | undefined = undefined

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly clock: Clock,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) {
      this.absent = key
      return undefined
    }
    if (this.clock.now() >= entry.expiresAt) {
      this.remove(key, entry)
      this.absent = key
      return undefined
    }
    entry.used = true
    return entry
  }

  set(key: string, entry: V): void {
    const previous = key === this.absent ? undefined : this.entries.get(key)
    this.absent = undefined
    if (previous !== undefined) this.remove(key, previous)
    if (this.entries.size >= this.maxEntries || this.held + entry.size > this.maxBytes) this.makeRoom(entry.size)
    this.entries.set(key, entry)
    this.held += entry.size
  }

  delete(key: string): void {
    const entry = this.entries.get(key)
    if (entry !== undefined) this.remove(key, entry)
  }

  clear(): void {
    this.entries.clear()
    this.hand = undefined
    this.held = 0
  }

  size(): number {
    return this.entries.size
  }

  bytes(): number {
    return this.held
  }

  private remove(key: string, entry: V): void {
    this.entries.delete(key)
    this.held -= entry.size
  }

  private makeRoom(incoming: number): void {
    const entries = this.entries
    while (entries.size > 0 && (entries.size >= this.maxEntries || this.held + incoming > this.maxBytes)) {
      this.hand ??= entries.entries()
      const next = this.hand.next()
      if (next.done === true) {
        this.hand = undefined // round again from the oldest insertion
        continue
      }
      const [key, entry] = next.value
      if (entry.used && this.clock.now() < entry.expiresAt) entry.used = false
      else this.remove(key, entry)
    }
  }
}

export const secondChanceMap = <V extends Held>(limits: { readonly maxEntries: number; readonly maxBytes: number; readonly clock: Clock }): SecondChanceMap<V> => {
  return new Clockwise<V>(limits.maxEntries, limits.maxBytes, limits.clock)
}
