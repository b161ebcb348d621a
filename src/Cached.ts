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
 * imports none of them (the parts it holds are typed in `internal/parts.ts`).
 *
 * @since 0.4.0
 */
import type { Tracer } from '@opentelemetry/api'
import type * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import type { Clock } from './Clock.js'
import { systemClock } from './Clock.js'
import type { Dedup } from './Dedup.js'
import { toError } from './errors.js'
import * as engine from './internal/engine.js'
import { invalidate } from './internal/invalidate.js'
import type { Outcome, Recipe } from './internal/recipe.js'
import { fence } from './internal/fence.js'
import { guarded } from './internal/guardedStore.js'
import { DEFAULT_PREFIX, keysOf } from './internal/keys.js'
import { runFunction } from './internal/compute.js'
import type { Compute, FailSafe, L1, Lease, RefreshAhead, Timeouts } from './internal/parts.js'
import { clockCodec, checkOption, fraction, functionCodec, keyBuilderCodec, keyPart, metricsSinkCodec, optional, positiveInteger, seconds, serializerCodec, storeCodec, tracerCodec, withMethods } from './internal/options.js'
import { syncReads, syncWrites } from './internal/sync.js'
import * as t from 'io-ts'
import type { KeyBuilder } from './Key.js'
import { functionName } from './Key.js'
import type { ErrorReporter } from './Logger.js'
import type { CacheMetrics } from './Metrics.js'
import { combineMetrics } from './Metrics.js'
import type { Serializer } from './Serializer.js'
import { msgpackSerializer, toSafe } from './Serializer.js'
import type { Store } from './Store.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * A cached function: same arguments as the original, a `TaskEither` of its error or its value.
 *
 * @category model
 * @since 0.1.0
 */
export interface Cached<Args extends ReadonlyArray<unknown>, E, A> {
  (...args: Args): TE.TaskEither<E, A>
  /** Drops the entry for these arguments. A failure here is returned, never recovered from. */
  readonly invalidate: (...args: Args) => TE.TaskEither<CacheError, void>
  /**
   * How many lookups are in flight in its single flight (always 0 without `withDedup`), plus the
   * background work no caller waits for (a refresh ahead, a computation past its timeout, a write
   * of `withBackgroundWrites` that its flight no longer holds).
   */
  readonly pending: () => number
}

/**
 * The error type of a lifted function: its own `E` for a `TaskEither`, `unknown` (whatever it throws
 * or rejects with) otherwise.
 *
 * @category model
 * @since 0.1.0
 */
export type ErrorOf<R> = R extends TE.TaskEither<infer E, unknown> ? E : unknown

/**
 * The value type of a lifted function: the `TaskEither`'s or the Promise's value, or the value itself.
 *
 * @category model
 * @since 0.1.0
 */
export type ValueOf<R> = R extends TE.TaskEither<unknown, infer A> ? A : Awaited<R>

/**
 * Everything a cached function runs on: its function and store, and the part every step chose. A
 * step made with `step` returns the parts it changes; the rest is kept. The engine reads the plan
 * once, when the step is applied, and runs its parts in a fixed order: key, in-process tier, single
 * flight, read, decode, validate; on a miss, compute, serialize, write.
 *
 * @category model
 * @since 0.4.0
 */
export interface Plan {
  /** The user's function; it returns a `TaskEither`, a Promise or a plain value (see `lift`). */
  readonly fn: (this: unknown, ...args: ReadonlyArray<never>) => unknown
  /** `'auto'`: a returned function is a `TaskEither`; `'promise'`: the result is a value or a Promise. */
  readonly lift: 'auto' | 'promise'
  /** Where values are kept. A step may wrap it (to log, to count, to fall back to a second store). */
  readonly store: Store
  /** The function's name in its keys (`{prefix}:{name}:{hash}`); without one, calls run uncached. */
  readonly name: string | undefined
  /** The first part of every key (default `"cache"`). */
  readonly prefix: string
  /** Builds the whole key instead of the default, Python-compatible builder. */
  readonly keyBuilder: KeyBuilder | undefined
  /** How long a written value lives, in whole seconds, or a function of the value. */
  readonly ttlSeconds: number | ((value: never) => number)
  /** How values become bytes (undefined: MessagePack, made when the plan is built). */
  readonly serializer: Serializer | undefined
  /** Checks a value read from the store before it is served (see `withDecoder`). */
  readonly decode: ((value: unknown) => E.Either<CacheError, unknown>) | undefined
  /** The single flight: concurrent calls of one key share one lookup (see `withDedup`). */
  readonly dedup: Dedup | undefined
  /** The in-process tier in front of the store (see `withL1`). */
  readonly l1: L1 | undefined
  /** Makes the lease across replicas for the store the plan ends with (see `withLease`). */
  readonly lease: ((store: Store) => Lease) | undefined
  /** Stale values for a failing function (see `withFailSafe`). */
  readonly failSafe: FailSafe | undefined
  /** How long callers wait for the function on a miss (see `withTimeouts`). */
  readonly timeouts: Timeouts | undefined
  /** When a hit starts a background refresh (see `withRefreshAhead`). */
  readonly refreshAhead: RefreshAhead | undefined
  /** The fraction each write's TTL is spread by; 0 for none. */
  readonly jitter: number
  /** Whether a miss answers its callers before its write has landed (see `withBackgroundWrites`). */
  readonly backgroundWrites: boolean
  /** Where the ages of entries come from (fail-safe, refresh ahead). */
  readonly clock: Clock
  /** Every sink that records hits, misses, writes and errors. */
  readonly metrics: ReadonlyArray<CacheMetrics>
  /**
   * Set: a cache failure is reported here and the call runs the function uncached (a failed write
   * still returns the computed value). Unset: the failure is the call's result (see `orElseUncached`).
   */
  readonly onCacheError: ErrorReporter | undefined
  /** Spans for every call when set (see `withTracing`). */
  readonly tracer: Tracer | undefined
  /** The wrappers of the whole call, innermost first (see `around`). */
  readonly around: ReadonlyArray<Around>
  /** The wrappers of the function's computation, innermost first (see `aroundCompute`). */
  readonly compute: ReadonlyArray<ComputeWrapper>
  /**
   * Keys of a step's own that belong to each value key (`(key) => \`${key}:mine\``): an
   * invalidation deletes them with the value. They must never be value keys of another function.
   */
  readonly companions: ReadonlyArray<(key: string) => string>
}

export type { Compute, Computation, Computed } from './internal/parts.js'

/**
 * A wrapper of the function's computation, as a plan keeps it: given the computation inside it and
 * the finished plan (as every step left it), the computation to run instead.
 *
 * @category model
 * @since 0.4.0
 */
export type ComputeWrapper = (next: Compute, plan: Plan) => Compute

/**
 * One call, as a wrapper made with `around` sees it.
 *
 * @category model
 * @since 0.4.0
 */
export interface Invocation<Args extends ReadonlyArray<unknown>, E, A> {
  readonly args: Args
  /** The call's `this` (a method's receiver; the function gets it when it runs). */
  readonly self: unknown
  /** The key the cache reads and writes for these arguments, or why there is none. */
  readonly key: () => E.Either<CacheError, string>
  /** The rest of the pipeline for this call (the cache, and every wrapper applied before this one). */
  readonly proceed: TE.TaskEither<E, A>
  /** The plan the call runs. */
  readonly plan: Plan
}

/**
 * A wrapper of the whole call, as a plan keeps it.
 *
 * @category model
 * @since 0.4.0
 */
export type Around = (call: Invocation<ReadonlyArray<unknown>, unknown, unknown>) => TE.TaskEither<unknown, unknown>

/**
 * A step that keeps the types: what `step` makes.
 *
 * @category model
 * @since 0.4.0
 */
export type Step = <Args extends ReadonlyArray<unknown>, E, A>(self: Cached<Args, E, A>) => Cached<Args, E, A>

// Registered symbols: a cached function made by the ESM build is recognised by the CommonJS one, and back.
const PLAN = Symbol.for('dapr-state-cache/plan')
const RUN = Symbol.for('dapr-state-cache/run')

/** How the Promise facade runs one call: the outcome at once when the engine knew it, else a promise. */
type Run = (self: unknown, args: ReadonlyArray<unknown>) => Outcome | Promise<Outcome>

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

const fail = (error: CacheError): never => {
  throw toError(error)
}

const isStore = (u: unknown): u is Store =>
  typeof u === 'object' &&
  u !== null &&
  typeof (u as Store).get === 'function' &&
  typeof (u as Store).set === 'function' &&
  typeof (u as Store).delete === 'function'

const functions = t.readonlyArray(functionCodec, 'an array of functions')

/**
 * A whole plan, described with the same codecs as the options of the steps that set each part, so
 * that a plan step of a user's own is held to what `withTtl`, `withKey`, ... would refuse.
 */
const PlanCodec = t.type({
  fn: functionCodec,
  lift: t.keyof({ auto: null, promise: null }, "'auto' or 'promise'"),
  store: storeCodec,
  name: optional(keyPart),
  prefix: keyPart,
  keyBuilder: optional(keyBuilderCodec),
  ttlSeconds: t.union([seconds, functionCodec], 'a positive integer number of seconds, or a function of the value'),
  serializer: optional(serializerCodec),
  decode: optional(functionCodec),
  dedup: optional(withMethods('a single flight (see withDedup)', ['join', 'hold', 'forget', 'size'])),
  l1: optional(withMethods('an in-process tier (see withL1)', ['get', 'ticket', 'fill', 'invalidate', 'size', 'clear'])),
  lease: optional(functionCodec),
  failSafe: optional(withMethods('a fail-safe (see withFailSafe)', ['throttled', 'throttle', 'forget', 'size'])),
  timeouts: optional(t.partial({ softMs: optional(positiveInteger), hardMs: optional(positiveInteger) })),
  refreshAhead: optional(withMethods('a refresh-ahead rule (see withRefreshAhead)', ['due'])),
  jitter: t.union([t.literal(0), fraction('0, or a fraction of the TTL greater than 0 and less than 1')], '0, or a fraction of the TTL'),
  backgroundWrites: t.boolean,
  clock: clockCodec,
  metrics: t.readonlyArray(metricsSinkCodec, 'an array of CacheMetrics sinks'),
  onCacheError: optional(functionCodec),
  tracer: optional(tracerCodec),
  around: functions,
  compute: functions,
  companions: functions,
})

/** The parts a finished plan must have right, whichever step set them: a `CacheOptionsError` naming the step and the part. */
const checked = (plan: Plan, by: string): Plan => {
  if (typeof plan !== 'object' || plan === null) fail(CE.invalidOptions(by, plan, 'a plan (see `plan(store, fn)`)'))
  checkOption(by, PlanCodec, plan, ': ')
  return plan
}

const build = <Args extends ReadonlyArray<unknown>, Err, A>(plan: Plan): Cached<Args, Err, A> => {
  const metrics = combineMetrics(plan.metrics)
  // A store of the user's own that throws instead of answering must not break the call either.
  const store = guarded(plan.store)
  const context = { name: plan.name, store: store.name }
  const recipe: Recipe = {
    fn: plan.fn,
    lift: plan.lift,
    compute: computeOf(plan),
    companions: plan.companions,
    store,
    reads: syncReads(store),
    writes: syncWrites(store),
    name: plan.name,
    keys: keysOf(plan.name, plan.prefix, plan.keyBuilder),
    ttlSeconds: plan.ttlSeconds as Recipe['ttlSeconds'],
    serializer: toSafe(plan.serializer ?? msgpackSerializer()),
    decode: plan.decode,
    dedup: plan.dedup,
    fence: fence(),
    l1: plan.l1,
    lease: plan.lease?.(store),
    failSafe: plan.failSafe,
    timeouts: plan.timeouts,
    refreshAhead: plan.refreshAhead,
    jitter: plan.jitter,
    backgroundWrites: plan.backgroundWrites && plan.dedup !== undefined && plan.lease === undefined && plan.onCacheError !== undefined,
    clock: plan.clock,
    keepsMeta: plan.failSafe !== undefined || plan.refreshAhead !== undefined,
    background: new Map(),
    landings: new Map(),
    l1Context: { ...context, tier: 'l1' },
    metrics,
    timed: plan.metrics.length > 0,
    context,
    coalesced: metrics.recordCoalesced === undefined ? undefined : (key) => metrics.recordCoalesced?.(key, context),
    tracer: plan.tracer,
    onCacheError: plan.onCacheError,
  }
  let cached: Cached<Args, Err, A>
  let run: Run
  if (plan.around.length === 0) {
    // No wrapper: the call is the engine's, with nothing in between.
    run = (self, args) => engine.runNow(recipe, self, args)
    cached = function (this: unknown, ...args: Args) {
      return () => engine.run(recipe, this, args)
    } as Cached<Args, Err, A>
  } else {
    const call = wrapped(plan, recipe)
    run = (self, args) => call(self, args)()
    cached = function (this: unknown, ...args: Args) {
      return call(this, args)
    } as unknown as Cached<Args, Err, A>
  }
  Object.defineProperty(cached, 'invalidate', {
    value: (...args: Args) => () => invalidate(recipe, args),
  })
  Object.defineProperty(cached, 'pending', { value: () => pending(recipe) })
  Object.defineProperty(cached, RUN, { value: run })
  Object.defineProperty(cached, PLAN, { value: plan })
  if (plan.name !== undefined) Object.defineProperty(cached, 'name', { value: plan.name })
  return cached
}

/** The function inside every wrapper of its computation, the first applied innermost; none without one. */
const computeOf = (plan: Plan): Compute | undefined => {
  if (plan.compute.length === 0) return undefined
  const fn = plan.fn
  const lift = plan.lift
  let compute: Compute = ({ self, args }) => runFunction(fn, lift, self, args)
  for (const wrap of plan.compute) compute = wrap(compute, plan)
  return compute
}

/** The engine's call inside every wrapper of the plan, the first applied innermost. */
const wrapped = (plan: Plan, recipe: Recipe) => {
  const keys = recipe.keys
  let call = (self: unknown, args: ReadonlyArray<unknown>): TE.TaskEither<unknown, unknown> => () => engine.run(recipe, self, args)
  for (const wrap of plan.around) {
    const next = call
    // Lazy, as a TaskEither is: the wrapper runs when the call's task runs, outermost first.
    call = (self, args) => () => wrap({ args, self, key: () => keys.keyOf(args), proceed: next(self, args), plan })()
  }
  return call
}

/**
 * Keys with work under way: in the single flight, in the background, or a background write that
 * neither holds any more (its flight was invalidated, or its callers stopped waiting at a timeout).
 */
const pending = (recipe: Recipe): number => {
  let writes = 0
  for (const key of recipe.landings.keys()) if (recipe.dedup?.join(key) === undefined && !recipe.background.has(key)) writes++
  return (recipe.dedup?.size() ?? 0) + recipe.background.size + writes
}

const isCached = (u: unknown): boolean => typeof u === 'function' && PLAN in u

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
  if (!isStore(store)) fail(CE.invalidOptions('store', store, 'a Store (an object with get, set and delete)'))
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
 * the engine runs `wrap(next, plan)` instead of the function, where `next` runs the function (and
 * the wrappers applied before this one) and `plan` is the finished plan, as every step left it. The
 * computation gets the call's `self`, `args` and `key`; what it returns is what the function would
 * have: a value is cached, a failure is not. `thrown` tells a failure the function threw from a
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
