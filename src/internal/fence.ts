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
  begin(): number
  /** That computation has ended (written or not). */
  end(): void
  /** `key` was invalidated now. */
  invalidate(key: string): void
  /** Whether the computation of `key` holding `ticket` may still store its value. */
  mayWrite(key: string, ticket: number): boolean
  /** Computations under way. */
  size(): number
}

const MAX_STAMPS = 10_000

/** One pipeline's fence: a class, so that all pipelines share its code (see `engine.ts`). */
class Tickets implements Fence {
  private clock = 0
  private running = 0
  // Tickets below this may have lost their stamp when the stamps were dropped: they may not write.
  private floor = 0
  private readonly stamps = new Map<string, number>()

  begin(): number {
    this.running++
    return ++this.clock
  }

  end(): void {
    if (--this.running === 0 && this.stamps.size > 0) this.stamps.clear()
  }

  invalidate(key: string): void {
    if (this.running === 0) return // nothing under way: later computations begin after this anyway
    if (this.stamps.size >= MAX_STAMPS) {
      this.stamps.clear()
      this.floor = ++this.clock
    }
    this.stamps.set(key, ++this.clock)
  }

  mayWrite(key: string, ticket: number): boolean {
    return ticket > this.floor && (this.stamps.size === 0 || !((this.stamps.get(key) ?? 0) > ticket))
  }

  size(): number {
    return this.running
  }
}

export const fence = (): Fence => {
  return new Tickets()
}
