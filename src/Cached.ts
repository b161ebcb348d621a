/**
 * The pipeline's model: a cached function (`Cached`), the plan it runs (`Plan`), and the step API
 * every combinator is written with, the library's own and a user's alike.
 *
 * A `Cached` is a function `(...args) => TaskEither<E, A>` with an `invalidate`. It carries its
 * plan: the function, the store and every part the steps chose (key, TTL, serializer, tier, lease,
 * ...). A step is a function from one `Cached` to another, data-last, so steps read in `pipe`. There
 * are two ways to write one:
 *
 * - `step(name, patch)` changes parts of the plan: `patch` gets the plan so far and returns the parts
 *   it changes (a new TTL, a wrapped store, a tier). The engine runs the finished plan in its fixed
 *   order, so such a step does the same wherever it stands in the pipe.
 * - `around(name, wrap)` wraps the whole call: `wrap` gets the call (its arguments, its key, and the
 *   rest of the pipeline as a `TaskEither`) and returns the call's result, so it may change the error
 *   type or the value type. Wrappers nest in the order they were applied: the last one is outermost.
 *
 * This module sits below every capability: `withL1`, `withLease`, `withFailSafe`, ... import it, it
 * imports none of them (the parts it holds are typed in `internal/parts.ts`). The types live in
 * `internal/model.ts` and the building of a plan in `internal/build.ts`; this module holds the API.
 *
 * @since 0.4.0
 */
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import { systemClock } from './Clock.js'
import { toError } from './errors.js'
import type { Run } from './internal/build.js'
import { build, checked, isCached, PLAN, RUN } from './internal/build.js'
import { DEFAULT_PREFIX } from './internal/keys.js'
import { checkOption, storeCodec } from './internal/options.js'
import type { Around, Cached, ComputeWrapper, ErrorOf, Invocation, Plan, Step, ValueOf } from './internal/model.js'
import { functionName } from './Key.js'
import type { Store } from './Store.js'

export type { Around, Cached, Compute, Computation, Computed, ComputeWrapper, ErrorOf, Invocation, Plan, Step, ValueOf } from './internal/model.js'

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

const fail = (error: CacheError): never => {
  throw toError(error)
}

const checkStep = (by: string, name: unknown, f: unknown): string => {
  if (typeof name !== 'string' || name === '') fail(CE.invalidOptions(`${by}: name`, name, 'a name for the step (it is named in its errors)'))
  if (typeof f !== 'function') fail(CE.invalidOptions(`${name as string}: ${by === 'step' ? 'patch' : 'wrap'}`, f, 'a function'))
  return name as string
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * The starting plan of `f` over `store`: its own name, prefix `"cache"`, one hour, MessagePack, and
 * nothing else. `cache` builds it; the Promise facade starts from it too.
 *
 * @category constructors
 * @since 0.4.0
 */
export const plan = (store: Store, f: (...args: never) => unknown, lift: Plan['lift'] = 'auto'): Plan => {
  if (typeof f !== 'function') fail(CE.invalidOptions('fn', f, 'a function'))
  checkOption('store', storeCodec, store)
  return {
    fn: f as Plan['fn'],
    lift,
    store,
    name: functionName(f),
    prefix: DEFAULT_PREFIX,
    keyBuilder: undefined,
    ttlSeconds: 3600,
    serializer: undefined,
    decode: undefined,
    dedup: undefined,
    l1: undefined,
    lease: undefined,
    generations: undefined,
    backplane: undefined,
    tags: undefined,
    failSafe: undefined,
    timeouts: undefined,
    refreshAhead: undefined,
    jitter: 0,
    backgroundWrites: false,
    clock: systemClock,
    metrics: [],
    onCacheError: undefined,
    tracer: undefined,
    around: [],
    compute: [],
    companions: [],
  }
}

/**
 * Lifts a function into a cached one over `store`. The function may return a `TaskEither`, a
 * Promise or a plain value (a returned function is taken to be a `TaskEither`). Defaults: the
 * function's own name, prefix `"cache"`, one hour, MessagePack, no single flight, no metrics, and
 * cache failures surfaced as `CacheError` values in the error channel.
 *
 * @category constructors
 * @since 0.1.0
 */
export const cache =
  (store: Store) =>
  <Args extends ReadonlyArray<unknown>, R>(f: (...args: Args) => R): Cached<Args, ErrorOf<R> | CacheError, ValueOf<R>> =>
    build(plan(store, f))

/**
 * Builds a cached function that runs `plan` as it is. Most code starts from `cache(store)` and
 * applies steps instead; this is for code that made its plan whole.
 *
 * @category constructors
 * @since 0.4.0
 */
export const fromPlan = <Args extends ReadonlyArray<unknown>, E, A>(whole: Plan): Cached<Args, E, A> => build(checked(whole, 'fromPlan'))

// -------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------

/**
 * The plan `cached` runs. `by` names the step that asks, in the error when `cached` was not made by
 * `cache(store)` (a hand-written wrapper of one has no plan: wrap calls with `around` instead).
 *
 * @category destructors
 * @since 0.4.0
 */
export const planOf = (cached: unknown, by = 'planOf'): Plan =>
  isCached(cached)
    ? (cached as { [PLAN]: Plan })[PLAN]
    : fail(CE.invalidOptions(`${by}: self`, cached, 'a function made by `cache(store)` and its steps (to wrap its calls, write the step with `around`)'))

/**
 * How the Promise facade runs one call of `cached`, without the `TaskEither` thunk: the outcome at
 * once when the engine knew it, else a promise of it. Never throws, never rejects (a wrapper made
 * with `around` must not either).
 *
 * @internal
 */
export const runnerOf = (cached: Cached<ReadonlyArray<unknown>, unknown, unknown>): Run => (cached as unknown as { [RUN]: Run })[RUN]

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Makes a step that changes parts of the plan: `patch` gets the plan so far and returns the parts it
 * changes. The step is checked when it is made (a name, a function) and when it is applied (to a
 * function made by `cache(store)`), with a `CacheOptionsError` that names it. Its state (a map, a
 * counter) belongs in the function that makes the step, or in `patch`, never at module load.
 *
 * ```ts
 * const withShortTtl = step('withShortTtl', (plan) => ({ ttlSeconds: 60, prefix: `short-${plan.prefix}` }))
 * ```
 *
 * @category combinators
 * @since 0.4.0
 */
export const step = (name: string, patch: (plan: Plan) => Partial<Plan>): Step => {
  const named = checkStep('step', name, patch)
  return <Args extends ReadonlyArray<unknown>, E, A>(self: Cached<Args, E, A>): Cached<Args, E, A> => {
    const before = planOf(self, named)
    const changes: unknown = patch(before)
    if (typeof changes !== 'object' || changes === null) fail(CE.invalidOptions(`${named}: patch`, changes, 'an object of the parts it changes'))
    return build(checked({ ...before, ...(changes as Partial<Plan>) }, named))
  }
}

/**
 * Makes a step that wraps the function's computation: on a miss (and when a call runs uncached),
 * the engine runs the computation `wrap(next, plan)` made instead of the function, where `next` runs
 * the function (and the wrappers applied before this one) and `plan` is the finished plan, as every
 * step left it. `wrap` is called as the pipeline is built, again for each later step (with the plan
 * so far), so it makes no client or timer of its own. The computation gets the call's `self`, `args`
 * and `key`; what it returns is what the function would have: a value is cached, a failure is not. `thrown` tells a failure the function threw from a
 * `Left` it returned. It runs inside the single flight and the lease, so concurrent misses share it.
 *
 * @category combinators
 * @since 0.4.0
 */
export const aroundCompute = (name: string, wrap: ComputeWrapper): Step => {
  const named = checkStep('aroundCompute', name, wrap)
  return <Args extends ReadonlyArray<unknown>, E, A>(self: Cached<Args, E, A>): Cached<Args, E, A> => {
    const before = planOf(self, named)
    return build({ ...before, compute: [...before.compute, wrap] })
  }
}

/**
 * Makes a step that wraps the whole call: `wrap` gets the call (its arguments, its key, and the rest
 * of the pipeline as `proceed`) and returns its result, so it may add to the error type, recover from
 * errors, change the value, or skip the cache. Like `TaskEither` itself, the result must not reject.
 * Steps applied after it (a TTL, a tier) still change the plan it wraps.
 *
 * ```ts
 * const withTiming = around('withTiming', (call) => {
 *   const started = Date.now()
 *   return pipe(call.proceed, TE.tap(() => TE.fromIO(() => console.log(Date.now() - started))))
 * })
 * ```
 *
 * @category combinators
 * @since 0.4.0
 */
export const around = <Args extends ReadonlyArray<unknown>, E, A, E2 = E, A2 = A>(
  name: string,
  wrap: (call: Invocation<Args, E, A>) => TE.TaskEither<E2, A2>,
): ((self: Cached<Args, E, A>) => Cached<Args, E2, A2>) => {
  const named = checkStep('around', name, wrap)
  return (self) => {
    const before = planOf(self, named)
    return build({ ...before, around: [...before.around, wrap as unknown as Around] })
  }
}
