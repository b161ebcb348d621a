/**
 * Building a cached function from a plan: the plan checked with the codecs of the built-ins' options,
 * resolved into the engine's recipe, and wrapped in the function a caller gets. The step API
 * (`Cached.ts`) builds every cached function here.
 */
import type * as TE from 'fp-ts/lib/TaskEither.js'
import * as t from 'io-ts'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import { toError } from '../errors.js'
import { combineMetrics, metricsSinkCodec } from '../Metrics.js'
import { msgpackSerializer, toSafe } from '../Serializer.js'
import { runFunction } from './compute.js'
import * as engine from './engine.js'
import { fence } from './fence.js'
import { guarded } from './guardedStore.js'
import { hear, trustedTier } from './backplane.js'
import { invalidate, invalidateTag } from './invalidate.js'
import { canTag, withEpoch } from './tags.js'
import { keysOf } from './keys.js'
import type { Cached, Plan } from './model.js'
import { busCodec, clockCodec, checkOption, fraction, functionCodec, keyBuilderCodec, keyName, keyPart, optional, positiveInteger, seconds, serializerCodec, storeCodec, tracerCodec, withMethods } from './options.js'
import type { Compute } from './parts.js'
import type { Outcome, Recipe } from './recipe.js'
import { syncReads, syncWrites } from './sync.js'
import type { Batch } from './batch.js'
import { runMany } from './many.js'


// Registered symbols: a cached function made by the ESM build is recognised by the CommonJS one, and back.
export const PLAN = Symbol.for('dapr-state-cache/plan')
export const RUN = Symbol.for('dapr-state-cache/run')

/**
 * How the Promise facade runs one call: the outcome at once when the engine knew it, else a promise.
 * With a batch, the call is one of a `many`.
 */
export type Run = (self: unknown, args: ReadonlyArray<unknown>, batch?: Batch) => Outcome | Promise<Outcome>

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

const fail = (error: CacheError): never => {
  throw toError(error)
}

const functions = t.readonlyArray(functionCodec, 'an array of functions')

/**
 * A whole plan, described with the same codecs as the options of the steps that set each part, so
 * that a plan step of a user's own is held to what `withTtl`, `withKey`, ... would refuse.
 */
const PlanCodec = t.type({
  fn: functionCodec,
  lift: t.keyof({ auto: null, promise: null }, "'auto' or 'promise'"),
  store: storeCodec,
  name: optional(keyName),
  prefix: keyPart,
  keyBuilder: optional(keyBuilderCodec),
  ttlSeconds: t.union([seconds, functionCodec], 'a positive integer number of seconds, or a function of the value'),
  serializer: optional(serializerCodec),
  decode: optional(functionCodec),
  dedup: optional(withMethods('a single flight (see withDedup)', ['join', 'hold', 'forget', 'size'])),
  l1: optional(withMethods('an in-process tier (see withL1)', ['get', 'ticket', 'fill', 'invalidate', 'size', 'clear'])),
  lease: optional(functionCodec),
  generations: optional(functionCodec),
  tags: optional(functionCodec),
  backplane: optional(busCodec),
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
export const checked = (plan: Plan, by: string): Plan => {
  if (typeof plan !== 'object' || plan === null) fail(CE.invalidOptions(by, plan, 'a plan (see `plan(store, fn)`)'))
  checkOption(by, PlanCodec, plan, ': ')
  return plan
}

export const build = <Args extends ReadonlyArray<unknown>, Err, A>(plan: Plan): Cached<Args, Err, A> => {
  if (plan.tags !== undefined && !canTag(plan.store)) {
    fail(CE.invalidOptions('tags', plan.store.name, 'a store with versioned entries (getVersioned, setIf, deleteIf), as daprStore and memoryStore are: the tag indexes need them'))
  }
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
    l1: plan.l1 !== undefined && plan.backplane !== undefined ? trustedTier(plan.l1, plan.backplane) : plan.l1,
    lease: plan.lease?.(store),
    generations: plan.tags === undefined ? plan.generations?.(store) : withEpoch(plan.generations?.(store), store, plan.prefix),
    prefix: plan.prefix,
    tags: plan.tags as Recipe['tags'],
    backplane: plan.backplane,
    landed: plan.backplane === undefined ? undefined : new Map(),
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
  if (plan.backplane !== undefined) hear(recipe, plan.backplane)
  let cached: Cached<Args, Err, A>
  let run: Run
  if (plan.around.length === 0) {
    // No wrapper: the call is the engine's, with nothing in between.
    run = (self, args, batch) => engine.runNow(recipe, self, args, batch)
    cached = function (this: unknown, ...args: Args) {
      return () => engine.run(recipe, this, args)
    } as Cached<Args, Err, A>
  } else {
    const call = wrapped(plan, recipe)
    run = (self, args, batch) => call(self, args, batch)()
    cached = function (this: unknown, ...args: Args) {
      return call(this, args)
    } as unknown as Cached<Args, Err, A>
  }
  Object.defineProperty(cached, 'invalidate', {
    value: (...args: Args) => () => invalidate(recipe, args),
  })
  Object.defineProperty(cached, 'invalidateTag', { value: (tags: string | ReadonlyArray<string>) => () => invalidateTag(recipe, tags) })
  Object.defineProperty(cached, 'pending', { value: () => pending(recipe) })
  Object.defineProperty(cached, 'many', {
    value: (argsList: ReadonlyArray<Args>) => {
      const checkedList = argumentLists(argsList)
      return () => runMany(recipe, run, undefined, checkedList)
    },
  })
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
  let call = (self: unknown, args: ReadonlyArray<unknown>, batch?: Batch): TE.TaskEither<unknown, unknown> => () => engine.run(recipe, self, args, batch)
  for (const wrap of plan.around) {
    const next = call
    // Lazy, as a TaskEither is: the wrapper runs when the call's task runs, outermost first.
    call = (self, args, batch) => () => wrap({ args, self, key: () => keys.keyOf(args), proceed: next(self, args, batch), plan })()
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

/** The argument lists of a `many`, checked before anything runs: a `CacheOptionsError` names the first that is not one. */
export const argumentLists = <Args extends ReadonlyArray<unknown>>(argsList: ReadonlyArray<Args>): ReadonlyArray<Args> => {
  if (!Array.isArray(argsList)) fail(CE.invalidOptions('many: argsList', argsList, 'an array of argument lists, one per call ([[1], [2]])'))
  const bad = (argsList as ReadonlyArray<unknown>).findIndex((args) => !Array.isArray(args))
  if (bad !== -1) fail(CE.invalidOptions(`many: argsList[${bad}]`, argsList[bad], 'an array of the arguments of one call'))
  return argsList
}

export const isCached = (u: unknown): boolean => typeof u === 'function' && PLAN in u
