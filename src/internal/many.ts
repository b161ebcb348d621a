/**
 * `many`: the calls of several argument lists as one batch (see `batch.ts`), each its own outcome.
 */
import * as E from 'fp-ts/lib/Either.js'
import { Batch } from './batch.js'
import type { Outcome, Recipe } from './recipe.js'

/** One call of the engine, inside every wrapper of the plan, with the batch its lookup joins. */
export type RunIn = (self: unknown, args: ReadonlyArray<unknown>, batch: Batch) => Outcome | Promise<Outcome>

/**
 * Every call of `argsList` as one batch: the outcomes in the order asked. Arguments with one key are
 * looked up once and share the outcome (DataLoader's rule); arguments without a key run as a single
 * call would (uncached). Never rejects.
 */
export const runMany = (recipe: Recipe, run: RunIn, self: unknown, argsList: ReadonlyArray<ReadonlyArray<unknown>>): Promise<ReadonlyArray<Outcome>> => {
  const batch = new Batch(recipe.store)
  const byKey = new Map<string, Outcome | Promise<Outcome>>()
  // A callback of the user's that throws (a TTL function) fails its own call, not the batch: the
  // other lookups' reads are sent all the same, and none is left waiting for them.
  const runOne = (args: ReadonlyArray<unknown>): Outcome | Promise<Outcome> => {
    try {
      return run(self, args, batch)
    } catch (failure) {
      return E.left(failure)
    }
  }
  const outcomes = argsList.map((args) => {
    const key = recipe.keys.keyOf(args)
    if (E.isLeft(key)) return runOne(args)
    const known = byKey.get(key.right)
    if (known !== undefined) return known
    const outcome = runOne(args)
    byKey.set(key.right, outcome)
    return outcome
  })
  batch.flushReads()
  return Promise.all(outcomes.map((outcome) => Promise.resolve(outcome)))
}
