/**
 * Invalidation that wins over a computation already under way.
 *
 * A computation that began before `invalidate()` for its key must not store its (possibly stale)
 * value afterwards. Each computation takes a ticket when it begins; an invalidation stamps its key
 * with a later ticket; a write goes ahead only if no invalidation came after the computation began.
 *
 * The hot path touches no table: a computation only counts itself in and out. Stamps are kept only
 * while some computation runs (they matter to nobody else) and dropped when the last one ends. Under
 * constant load with many invalidations the stamps are bounded: past `MAX_STAMPS` they are dropped at
 * once and every computation that began before that moment is treated as invalidated (it computes
 * and returns its value, but does not store it), so the bound costs a few writes, never a stale one.
 * It fences within one process, not across processes (see `Lease` for that).
 */

export interface Fence {
  /** A computation begins; returns its ticket. */
  readonly begin: () => number
  /** That computation has ended (written or not). */
  readonly end: () => void
  /** `key` was invalidated now. */
  readonly invalidate: (key: string) => void
  /** Whether the computation of `key` holding `ticket` may still store its value. */
  readonly mayWrite: (key: string, ticket: number) => boolean
  /** Computations under way. */
  readonly size: () => number
}

const MAX_STAMPS = 10_000

export const fence = (): Fence => {
  let clock = 0
  let running = 0
  // Tickets below this may have lost their stamp when the stamps were dropped: they may not write.
  let floor = 0
  const stamps = new Map<string, number>()
  return {
    begin: () => {
      running++
      return ++clock
    },
    end: () => {
      if (--running === 0 && stamps.size > 0) stamps.clear()
    },
    invalidate: (key) => {
      if (running === 0) return // nothing under way: later computations begin after this anyway
      if (stamps.size >= MAX_STAMPS) {
        stamps.clear()
        floor = ++clock
      }
      stamps.set(key, ++clock)
    },
    mayWrite: (key, ticket) => ticket > floor && (stamps.size === 0 || !((stamps.get(key) ?? 0) > ticket)),
    size: () => running,
  }
}
