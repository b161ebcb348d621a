/**
 * Running the user's function, whatever it returns, as an `Either` of its failure or its value; for
 * the engine (`engine.ts`), which decides when.
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { Generation } from './landing.js'
import { sameGeneration, track } from './landing.js'
import type { Computed } from './parts.js'
import type { Outcome, PendingMiss, Recipe } from './recipe.js'
import { isThenable } from './thenable.js'
import type { CallSpan } from './tracing.js'

// -------------------------------------------------------------------------------------
// the function
// -------------------------------------------------------------------------------------

/**
 * A failure the function threw or rejected with (rather than returned as a `Left`). The mark is not
 * enumerable: the `Left` a caller gets still equals `E.left(failure)`.
 */
export const thrown = (failure: unknown): Computed => Object.defineProperty(E.left(failure), 'thrown', { value: true })

/**
 * Runs `fn`, whatever it returns, as an `Either` of its own failure or its value: at once when the
 * function answered synchronously, as a promise (that never rejects) when it did not.
 */
export const runFunction = (fn: Recipe['fn'], lift: Recipe['lift'], self: unknown, args: ReadonlyArray<unknown>): Computed | Promise<Computed> => {
  let out: unknown
  try {
    out = Reflect.apply(fn, self, args)
    if (lift === 'auto' && typeof out === 'function') {
      // A TaskEither answers with an Either; one that rejects anyway fails like a Promise would.
      return Promise.resolve((out as TE.TaskEither<unknown, unknown>)()).then((either) => either, thrown)
    }
  } catch (failure) {
    return thrown(failure)
  }
  return isThenable(out) ? Promise.resolve(out).then(E.right, thrown) : E.right(out)
}

const stale = (): boolean => false
const staleEverywhere = (): Promise<boolean> => Promise.resolve(false)
const nothing = (): void => undefined

/**
 * Runs the function of `recipe` for `key`, through the wrappers its steps put around it. `key` is
 * undefined when the call runs uncached; `fenceTicket` is the fence's ticket of a computation whose
 * value may be stored; `miss` the lookup's miss, counted once the wrappers are done unless one of
 * them answered from an entry of its own; `before` the key's generation read before the computation.
 */
export const compute = (
  recipe: Recipe,
  key: string | undefined,
  self: unknown,
  args: ReadonlyArray<unknown>,
  fenceTicket?: number,
  miss?: PendingMiss,
  before?: Generation,
): Outcome | Promise<Outcome> => {
  const wrapped = recipe.compute
  if (wrapped === undefined) return runFunction(recipe.fn, recipe.lift, self, args)
  const current = key === undefined || fenceTicket === undefined ? stale : () => recipe.fence.mayWrite(key, fenceTicket)
  const currentEverywhere =
    key === undefined || fenceTicket === undefined
      ? staleEverywhere
      : async () => current() && (before === undefined || (await sameGeneration(recipe, key, before)) === 'same') && current()
  const ownHit = miss === undefined ? nothing : () => miss.claim()
  const landing = key === undefined ? nothing : (work: Promise<unknown>) => void track(recipe, key, work)
  let computed: Computed | Promise<Computed>
  try {
    computed = wrapped({ self, args, key, current, currentEverywhere, ownHit, landing })
  } catch (failure) {
    computed = thrown(failure)
  }
  if (!isThenable(computed)) {
    miss?.record()
    return computed
  }
  return Promise.resolve(computed).then(
    (either) => {
      miss?.record()
      return either
    },
    (failure: unknown) => {
      miss?.record()
      return thrown(failure)
    },
  )
}

/** Runs the function, inside its own span when the call is traced; notes its failure. */
export const computeTraced = (
  recipe: Recipe,
  key: string | undefined,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  fenceTicket?: number,
  miss?: PendingMiss,
  before?: Generation,
): Outcome | Promise<Outcome> => {
  if (call === undefined) return compute(recipe, key, self, args, fenceTicket, miss, before)
  return call
    .compute(() => Promise.resolve(compute(recipe, key, self, args, fenceTicket, miss, before)))
    .then((fresh) => {
      if (E.isLeft(fresh)) call.result('error', fresh.left)
      return fresh
    })
}
