/**
 * Running the user's function, whatever it returns, as an `Either` of its failure or its value; for
 * the engine (`engine.ts`), which decides when.
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { Outcome, Recipe } from './recipe.js'
import { isThenable } from './thenable.js'
import type { CallSpan } from './tracing.js'

// -------------------------------------------------------------------------------------
// the function
// -------------------------------------------------------------------------------------

const fail = (failure: unknown): Outcome => E.left(failure)

/**
 * Runs the user's function, whatever it returns, as an `Either` of its own failure or its value: at
 * once when the function answered synchronously, as a promise (that never rejects) when it did not.
 */
export const compute = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>): Outcome | Promise<Outcome> => {
  let out: unknown
  try {
    out = Reflect.apply(recipe.fn, self, args)
    if (recipe.lift === 'auto' && typeof out === 'function') {
      // A TaskEither answers with an Either; one that rejects anyway fails like a Promise would.
      return Promise.resolve((out as TE.TaskEither<unknown, unknown>)()).then((either) => either, fail)
    }
  } catch (failure) {
    return E.left(failure)
  }
  return isThenable(out) ? Promise.resolve(out).then(E.right, fail) : E.right(out)
}

/** Runs the function, inside its own span when the call is traced; notes its failure. */
export const computeTraced = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined): Outcome | Promise<Outcome> => {
  if (call === undefined) return compute(recipe, self, args)
  return call
    .compute(() => Promise.resolve(compute(recipe, self, args)))
    .then((fresh) => {
      if (E.isLeft(fresh)) call.result('error', fresh.left)
      return fresh
    })
}

