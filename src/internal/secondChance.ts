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
  readonly get: (key: string) => V | undefined
  /** Puts `entry` under `key` (replacing what was there), after making room for it. */
  readonly set: (key: string, entry: V) => void
  readonly delete: (key: string) => void
  readonly clear: () => void
  /** Entries held now (expired ones not yet dropped included). */
  readonly size: () => number
  readonly bytes: () => number
}

export const secondChanceMap = <V extends Held>(limits: { readonly maxEntries: number; readonly maxBytes: number; readonly clock: Clock }): SecondChanceMap<V> => {
  const { maxEntries, maxBytes, clock } = limits
  const entries = new Map<string, V>()
  let bytes = 0

  const remove = (key: string, entry: V): void => {
    entries.delete(key)
    bytes -= entry.size
  }

  let hand: Iterator<[string, V]> | undefined
  // A key known to be absent: the last one `get` missed, until anything is set. A write that follows
  // a missed read (a cold miss) then need not look for an entry to replace.
  let absent: string | undefined

  const makeRoom = (incoming: number): void => {
    while (entries.size > 0 && (entries.size >= maxEntries || bytes + incoming > maxBytes)) {
      hand ??= entries.entries()
      const next = hand.next()
      if (next.done === true) {
        hand = undefined // round again from the oldest insertion
        continue
      }
      const [key, entry] = next.value
      if (entry.used && clock.now() < entry.expiresAt) entry.used = false
      else remove(key, entry)
    }
  }

  return {
    get: (key) => {
      const entry = entries.get(key)
      if (entry === undefined) {
        absent = key
        return undefined
      }
      if (clock.now() >= entry.expiresAt) {
        remove(key, entry)
        absent = key
        return undefined
      }
      entry.used = true
      return entry
    },
    set: (key, entry) => {
      const previous = key === absent ? undefined : entries.get(key)
      absent = undefined
      if (previous !== undefined) remove(key, previous)
      if (entries.size >= maxEntries || bytes + entry.size > maxBytes) makeRoom(entry.size)
      entries.set(key, entry)
      bytes += entry.size
    },
    delete: (key) => {
      const entry = entries.get(key)
      if (entry !== undefined) remove(key, entry)
    },
    clear: () => {
      entries.clear()
      hand = undefined
      bytes = 0
    },
    size: () => entries.size,
    bytes: () => bytes,
  }
}
