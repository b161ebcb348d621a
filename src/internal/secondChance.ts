/**
 * The bounded map behind the in-process caches (the memory store and the in-process tier): bounded
 * by entry count and by bytes, with expiry checked lazily against the caller's clock (no timers).
 *
 * Eviction is second chance, an approximation of least recently used that costs a read nothing but
 * setting a flag: a Map iterates in insertion order; eviction walks from the oldest insertion, moves
 * an entry read since it was last looked at (and not expired) to the back with its mark cleared,
 * and drops the first one that was not. A new entry is made room for before it goes in.
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

  const makeRoom = (incoming: number): void => {
    while (entries.size > 0 && (entries.size >= maxEntries || bytes + incoming > maxBytes)) {
      for (const [key, entry] of entries) {
        if (entry.used && clock.now() < entry.expiresAt) {
          entry.used = false
          entries.delete(key)
          entries.set(key, entry)
          continue
        }
        remove(key, entry)
        break
      }
    }
  }

  return {
    get: (key) => {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (clock.now() >= entry.expiresAt) {
        remove(key, entry)
        return undefined
      }
      entry.used = true
      return entry
    },
    set: (key, entry) => {
      const previous = entries.get(key)
      if (previous !== undefined) remove(key, previous)
      makeRoom(entry.size)
      entries.set(key, entry)
      bytes += entry.size
    },
    delete: (key) => {
      const entry = entries.get(key)
      if (entry !== undefined) remove(key, entry)
    },
    clear: () => {
      entries.clear()
      bytes = 0
    },
    size: () => entries.size,
    bytes: () => bytes,
  }
}
