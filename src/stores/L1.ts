/**
 * The in-process tier (L1): hot values served from this process's memory, in front of any store.
 *
 * An L1 entry holds the value a call would get from the store (decoded once, when the entry is
 * filled), for at most `ttlSeconds`: the staleness a replica accepts in exchange for no round trip,
 * never longer than the entry's own TTL. With `values: 'copy'` (the default) every hit gets its own
 * deep copy, so callers may mutate what they got; with `'frozen'` every hit gets the same deeply frozen
 * value (no copy at all; a value holding a `Date`, `Map`, `Set` or typed array cannot be frozen and is
 * copied instead). A read that began before an `invalidate` of its key never fills the entry after it,
 * and for one second after an `invalidate` the key is read from the store without being kept.
 *
 * It does not talk to other replicas itself: without a backplane (`withBackplane`), an entry another
 * replica invalidated is served here until its `ttlSeconds` end. The engine decides when an entry is
 * read or filled (`internal/engine.ts`).
 *
 * @since 0.2.0
 */
import * as t from 'io-ts'
import { systemClock } from '../Clock.js'
import { copyValue, deepFreeze } from '../internal/copy.js'
import { checkOption, clockCodec, group, optional, positiveInteger, seconds, trueOr } from '../internal/options.js'
import type { L1 } from '../internal/parts.js'
import type { Held } from '../internal/secondChance.js'
import { secondChanceMap } from '../internal/secondChance.js'
import type { Step } from '../Cached.js'
import { step } from '../Cached.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of the in-process tier, described once for `withL1` and `cacheable({ l1 })`:
 * `maxEntries` (default 1,000), `maxBytes` (default: no limit; counted as the serialized size),
 * `ttlSeconds` (default 10; capped by each entry's own TTL), `values` (`'copy'` or `'frozen'`,
 * default `'copy'`) and `clock` (default: the system clock).
 *
 * @category model
 * @since 0.2.0
 */
export const L1OptionsCodec = group('L1Options', {
  maxEntries: optional(positiveInteger),
  maxBytes: optional(positiveInteger),
  ttlSeconds: optional(seconds),
  values: optional(t.keyof({ copy: null, frozen: null }, "'copy' or 'frozen'")),
  clock: optional(clockCodec),
})

/**
 * @category model
 * @since 0.2.0
 */
export type L1Options = t.TypeOf<typeof L1OptionsCodec>

export type { L1 } from '../internal/parts.js'

interface Entry extends Held {
  readonly value: unknown
  /** The hit's result, made once for a frozen value; undefined: copy on every hit. */
  readonly shared: { readonly value: unknown } | undefined
}

/** How long an invalidation is remembered against reads in flight: longer than any store deadline. */
const REMEMBER_INVALIDATION_MS = 60_000

/**
 * How long after an invalidation of a key the tier keeps no value of it, in real time (not the
 * tier's clock, which a test may hold still): reads go to the store. A
 * write another replica had already sent when the key's generation changed may still land, and that
 * replica deletes it two round trips later (`withGenerations`); a read in between must not keep it
 * here for the tier's whole TTL.
 */
const SETTLE_MS = 1_000

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * A new, empty tier with these (already decoded) options.
 *
 * @category constructors
 * @since 0.2.0
 */
export const l1 = (options: L1Options = {}): L1 => {
  const maxEntries = options.maxEntries ?? 1000
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
  const ttlMs = (options.ttlSeconds ?? 10) * 1000
  const values = options.values ?? 'copy'
  const clock = options.clock ?? systemClock
  const entries = secondChanceMap<Entry>({ maxEntries, maxBytes, clock })
  // `at` is on the tier's clock (for forgetting); `settledAfter` on real time, as the network's delays are.
  const invalidated = new Map<string, { readonly tick: number; readonly at: number; readonly settledAfter: number }>()
  let tick = 0
  // Reads that began before the last clear fill nothing: what they read may be what the clear was for.
  let floor = 0

  return {
    values,
    get: (key) => {
      const entry = entries.get(key)
      return entry === undefined ? undefined : (entry.shared ?? copyValue(entry.value))
    },
    ticket: () => ++tick,
    fill: (key, value, sizeBytes, entryTtlSeconds, ticket) => {
      if (ticket <= floor) return
      const stamp = invalidated.get(key)
      if (stamp !== undefined && (stamp.tick >= ticket || performance.now() - stamp.settledAfter < 0)) return
      if (sizeBytes > maxBytes) return
      const frozen = values === 'frozen' && deepFreeze(value)
      const kept = frozen ? { value } : copyValue(value)
      if (kept === undefined) return // neither freezable nor copyable: not kept
      entries.set(key, {
        value: kept.value,
        shared: frozen ? kept : undefined,
        expiresAt: clock.now() + Math.min(ttlMs, entryTtlSeconds * 1000),
        size: sizeBytes,
        used: false,
      })
    },
    invalidate: (key, replaced = false) => {
      entries.delete(key)
      const now = clock.now()
      const settledAfter = performance.now() + (replaced ? 0 : SETTLE_MS)
      invalidated.set(key, { tick: ++tick, at: now, settledAfter: Math.max(settledAfter, invalidated.get(key)?.settledAfter ?? 0) })
      if (invalidated.size > maxEntries) {
        for (const [stale, stamp] of invalidated) if (now - stamp.at > REMEMBER_INVALIDATION_MS) invalidated.delete(stale)
      }
    },
    size: () => entries.size(),
    clear: () => {
      entries.clear()
      floor = ++tick
    },
  }
}

/**
 * Decodes the options of an in-process tier as given to `withL1` or `cacheable({ l1 })` (`true`:
 * the defaults); a bad one throws a `CacheOptionsError` naming it (`l1.ttlSeconds`, ...).
 *
 * @category constructors
 * @since 0.2.0
 */
export const l1Options = (option: string, value: unknown): L1Options => {
  const decoded = checkOption(option, trueOr(L1OptionsCodec), value)
  return decoded === true ? {} : decoded
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Puts an in-process tier in front of the store: hot values are served from this process's memory
 * for up to `ttlSeconds`, with no I/O and, with `values: 'frozen'`, no copy. The tier is made here,
 * when the step is applied.
 *
 * @category combinators
 * @since 0.2.0
 */
export const withL1 = (options: true | L1Options = true): Step => {
  const tier = l1(l1Options('l1', options))
  return step('withL1', () => ({ l1: tier }))
}
