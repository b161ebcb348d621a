/**
 * Invalidation that wins over a computation already under way.
 *
 * A computation that began before `invalidate()` for its key must not store its (possibly stale)
 * value afterwards. Each computation takes a ticket when it begins; an invalidation stamps its key
 * with a later ticket; a write goes ahead only if no invalidation came after the computation began.
 * Only keys with a computation under way are tracked, so the table is as large as the work in flight.
 * It fences within one process, not across processes.
 */

export interface Fence {
  /** A computation of `key` begins; returns its ticket. */
  readonly begin: (key: string) => number
  /** That computation has ended (written or not). */
  readonly end: (key: string) => void
  /** `key` was invalidated now. */
  readonly invalidate: (key: string) => void
  /** Whether the computation holding `ticket` may still store its value. */
  readonly mayWrite: (key: string, ticket: number) => boolean
  /** Keys with a computation under way. */
  readonly size: () => number
}

export const fence = (): Fence => {
  let clock = 0
  const active = new Map<string, { running: number; invalidatedAt: number }>()
  return {
    begin: (key) => {
      const entry = active.get(key)
      if (entry === undefined) active.set(key, { running: 1, invalidatedAt: -1 })
      else entry.running++
      return ++clock
    },
    end: (key) => {
      const entry = active.get(key)
      if (entry !== undefined && --entry.running === 0) active.delete(key)
    },
    invalidate: (key) => {
      const entry = active.get(key)
      if (entry !== undefined) entry.invalidatedAt = ++clock
    },
    mayWrite: (key, ticket) => {
      const entry = active.get(key)
      return entry === undefined || entry.invalidatedAt < ticket
    },
    size: () => active.size,
  }
}
