/**
 * Single flight: concurrent calls for one key share one lookup, one computation and one write.
 *
 * The first call for a key starts the work and leaves its promise in the in-flight map; calls that
 * arrive while it is there get the same promise, and with it the same value or the same failure.
 * The entry is removed as soon as the promise settles, whatever the outcome, so nothing leaks and a
 * failure is never remembered. The map belongs to one pipeline and is made when the pipeline is
 * built (`withDedup()`), never at module load.
 *
 * It deduplicates within one process only; it does not lock across processes.
 *
 * @since 0.1.0
 */
import { isThenable } from './internal/thenable.js'

/**
 * @category model
 * @since 0.1.0
 */
export interface Dedup {
  /**
   * Runs `work` for `key` unless a run for `key` is in flight, in which case `onJoin` is called and
   * the in-flight promise is returned. `work` must not throw synchronously; when it answers at once
   * (not a promise), nobody can have joined it and nothing is put in flight.
   */
  run<T>(key: string, work: () => T | PromiseLike<T>, onJoin?: (key: string) => void): Promise<T>
  /**
   * Puts `begun`, a run for `key` that began in this same tick after `join` found none (so nobody
   * can have started another since), in flight until it settles; returns it as a promise. With
   * `after`, the key stays in flight once `begun` has settled until the work `after()` then returns
   * (if any) has settled too: calls that join meanwhile get `begun`'s result at once, and nobody
   * starts the work again while, say, its write is on the way.
   */
  hold<T>(key: string, begun: PromiseLike<T>, after?: () => PromiseLike<unknown> | undefined): Promise<T>
  /** The run in flight for `key`, if any (and `onJoin` is called): joining needs no work to be made. */
  join<T>(key: string, onJoin?: (key: string) => void): Promise<T> | undefined
  /** Forgets the in-flight run for `key` (callers already waiting keep their promise). */
  forget(key: string): void
  /** How many keys are in flight now. */
  size(): number
}

/**
 * One pipeline's in-flight map: a class, so that all pipelines share its code (see `internal/engine.ts`).
 * The first key in flight is kept in two fields rather than in the map: most of the time one key at
 * most is in flight, and a miss then costs no map operation at all (a set, a lookup and a delete in a
 * map that grows holes and compacts itself every few misses, measured at about 500 instructions of
 * a cold miss on the users' shape, `bench/cold-miss-profile.mjs --shape=real`).
 */
class InFlight implements Dedup {
  private soleKey: string | undefined = undefined
  private sole: Promise<unknown> | undefined = undefined
  private readonly inFlight = new Map<string, Promise<unknown>>()

  hold<T>(key: string, begun: PromiseLike<T>, after?: () => PromiseLike<unknown> | undefined): Promise<T> {
    const running = Promise.resolve(begun)
    if (this.sole === undefined) {
      this.soleKey = key
      this.sole = running
    } else this.inFlight.set(key, running)
    const release = (): void => this.release(key, running)
    const settled =
      after === undefined
        ? release
        : (): void => {
            const rest = after()
            if (rest === undefined) release()
            else Promise.resolve(rest).then(release, release)
          }
    // Both branches handled: this bookkeeping chain can never be an unhandled rejection.
    running.then(settled, settled)
    return running
  }

  join<T>(key: string, onJoin?: (key: string) => void): Promise<T> | undefined {
    const existing = this.soleKey === key ? this.sole : this.inFlight.size === 0 ? undefined : this.inFlight.get(key)
    if (existing !== undefined) onJoin?.(key)
    return existing as Promise<T> | undefined
  }

  run<T>(key: string, work: () => T | PromiseLike<T>, onJoin?: (key: string) => void): Promise<T> {
    const joined = this.join<T>(key, onJoin)
    if (joined !== undefined) return joined
    const result = work()
    return isThenable(result) ? this.hold(key, result) : Promise.resolve(result)
  }

  forget(key: string): void {
    if (this.soleKey === key) this.clearSole()
    else this.inFlight.delete(key)
  }

  size(): number {
    return this.inFlight.size + (this.sole === undefined ? 0 : 1)
  }

  /** `running` has settled: its key leaves the flight, unless a later run holds it now. */
  private release(key: string, running: Promise<unknown>): void {
    if (this.sole === running) this.clearSole()
    else if (this.inFlight.get(key) === running) this.inFlight.delete(key)
  }

  private clearSole(): void {
    this.soleKey = undefined
    this.sole = undefined
  }
}

/**
 * A new, empty in-flight map.
 *
 * @category constructors
 * @since 0.1.0
 */
export const dedup = (): Dedup => {
  return new InFlight()
}
