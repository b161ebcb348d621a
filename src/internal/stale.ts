/**
 * Serving stale, and time-boxing the function (fail-safe, timeouts): the stale copy read from the
 * companion entry, a stale value counted and traced, and the wait for a computation within the
 * timeouts. When each is used is in `engine.ts`.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import * as CE from '../CacheError.js'
import { decodeMeta, expiresAt, metaKey } from './meta.js'
import type { FailSafe, Timeouts } from './parts.js'
import type { Outcome, Recipe } from './recipe.js'
import { background, read } from './recipe.js'
import type { CallSpan } from './tracing.js'

/** A soft timeout's answer: the stale value callers get while the computation goes on. */
export interface StaleAnswer {
  readonly _tag: 'Stale'
  readonly value: unknown
}

/**
 * Waits for `work` within the timeouts: its outcome; or, past `softMs`, the stale value if
 * `staleRead` finds one; or, past `hardMs`, a `FunctionTimeout`. Work its caller stopped waiting for
 * goes on in the background, one per key, until it lands.
 */
export const withinTimeouts = (
  recipe: Recipe,
  key: string,
  work: Promise<Outcome>,
  timeouts: Timeouts,
  staleRead: Promise<{ readonly value: unknown } | undefined> | undefined,
): Promise<Outcome | StaleAnswer> =>
  new Promise((resolve) => {
    let soft: NodeJS.Timeout | undefined
    let hard: NodeJS.Timeout | undefined
    let answered = false
    const answer = (outcome: Outcome | StaleAnswer, landed: boolean): void => {
      if (answered) return
      answered = true
      clearTimeout(soft)
      clearTimeout(hard)
      // Its callers stop waiting: the computation goes on in the background (once per key).
      if (!landed && recipe.background.get(key) !== work) background(recipe, key, work)
      resolve(outcome)
    }
    void work.then((outcome) => answer(outcome, true))
    const { softMs, hardMs } = timeouts
    if (softMs !== undefined && staleRead !== undefined) {
      soft = setTimeout(() => {
        void staleRead.then((stale) => {
          if (stale !== undefined) answer({ _tag: 'Stale', value: stale.value }, false)
        })
      }, softMs)
    }
    if (hardMs !== undefined) hard = setTimeout(() => answer(E.left(CE.functionTimeout(hardMs, key)), false), hardMs)
  })

/** A stale value served: counted and traced. */
export const servedStale = (recipe: Recipe, key: string, value: unknown, call: CallSpan | undefined): Outcome => {
  recipe.metrics.recordStale?.(key, recipe.context)
  call?.result('stale')
  return E.right(value)
}

/**
 * The stale copy of `key`'s value in its companion entry, if it expired at most `maxStaleSeconds`
 * ago and still decodes. A store that cannot answer now has no stale value to give (counted).
 */
export const loadStale = async (recipe: Recipe, failSafe: FailSafe, key: string): Promise<{ readonly value: unknown } | undefined> => {
  const found = await recipe.store.get(metaKey(key))()
  if (E.isLeft(found)) {
    recipe.metrics.recordError(metaKey(key), CE.withKey(metaKey(key))(found.left), recipe.context)
    return undefined
  }
  const meta = O.isSome(found.right) ? decodeMeta(found.right.value) : undefined
  if (meta?.bytes === undefined || recipe.clock.now() > expiresAt(meta) + failSafe.maxStaleSeconds * 1000) return undefined
  const value = read(recipe, meta.bytes)
  return E.isRight(value) ? { value: value.right } : undefined
}
