/**
 * The Promise face: `cacheable` wraps a function or decorates a method, for code that does not use
 * fp-ts. It builds the same pipeline as `cache(store)` with every step a user of a cache expects on
 * (key, TTL, serializer, single flight, metrics, best-effort fallback) and turns the `TaskEither`
 * into a Promise at the very edge. There is no second implementation.
 *
 * ```ts
 * const getUser = cacheable({ store, ttlSeconds: 300 })(async (id: number) => db.users.find(id))
 * await getUser(1)             // computes and stores
 * await getUser(1)             // read from the store
 * await getUser.invalidate(1)  // drops that entry
 * ```
 *
 * Options are checked when the function is wrapped; a bad one throws a `CacheOptionsError` naming
 * it. At call time the wrapper never throws for a cache reason: it rejects only with what the
 * function itself threw.
 *
 * @since 0.1.0
 */
import { trace } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError as CacheErrorValue } from './CacheError.js'
import * as CE from './CacheError.js'
import { dedup } from './Dedup.js'
import { toError } from './errors.js'
import type { AnyFunction } from './Key.js'
import { functionName, isKeyName } from './Key.js'
import { cacheWarnings } from './Logger.js'
import type { CacheMetrics } from './Metrics.js'
import { metricsSinkCodec } from './Metrics.js'
import type { Cached } from './Cached.js'
import { fromPlan, plan, runnerOf } from './Cached.js'
import { daprStore } from './stores/DaprStore.js'
import * as t from 'io-ts'
import { L1OptionsCodec, l1 } from './stores/L1.js'
import { generations } from './Generations.js'
import { backplaneCodec, defaultBackplane } from './Backplane.js'
import type { TagInvalidation, TagsOf } from './Tags.js'
import { tagsCodec } from './Tags.js'
import { LeaseOptionsCodec, lease, leaseGenerations } from './Lease.js'
import { FailSafeOptionsCodec, failSafe } from './FailSafe.js'
import { JitterCodec } from './Jitter.js'
import { NegativeCacheOptionsCodec, withNegativeCache } from './NegativeCache.js'
import { RefreshAheadOptionsCodec, refreshAhead } from './RefreshAhead.js'
import { TimeoutsOptionsCodec } from './Timeouts.js'
import { isThenable } from './internal/thenable.js'
import {
  checkOption,
  clockCodec,
  group,
  keyBuilderCodec,
  keyName,
  keyPart,
  loggerCodec,
  optional,
  seconds,
  serializerCodec,
  storeCodec,
  tracerCodec,
  trueOr,
} from './internal/options.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of `cacheable`, described once: this codec checks them at wrap time (a bad one is a
 * `CacheOptionsError` naming it, an unknown one names the likely intended one), and their type is
 * this codec's.
 *
 * @category model
 * @since 0.2.0
 */
export const CacheableOptionsCodec = group(
  'CacheableOptions',
  {
    /** The store to cache in (default: the Dapr store named `storeName`, at the sidecar the environment names). */
    store: optional(storeCodec),
    /** The Dapr state store's name (default `"cache"`); used by the default store only. */
    storeName: optional(keyPart),
    /** Seconds a value lives (default 3600); a positive integer. */
    ttlSeconds: optional(seconds),
    /** First part of every key (default `"cache"`). */
    keyPrefix: optional(keyPart),
    /** The function's name in keys (default: its own name; `Class.method` for methods). */
    name: optional(keyName),
    /** Builds the whole key instead of the default builder. */
    keyBuilder: optional(keyBuilderCodec),
    /** Values to bytes and back (default: MessagePack). */
    serializer: optional(serializerCodec),
    /** Where hits, misses, writes and errors are recorded; several sinks may be given. */
    metrics: optional(t.union([metricsSinkCodec, t.readonlyArray(metricsSinkCodec)], metricsSinkCodec.name)),
    /** Where rate-limited warnings about cache failures go (default `console`). */
    logger: optional(loggerCodec),
    /** Traces every call: an OpenTelemetry `Tracer`, or `true` for the global one. Off by default. */
    tracer: optional(t.union([t.boolean, tracerCodec], 'an OpenTelemetry Tracer, or true for the global one')),
    /**
     * An in-process tier in front of the store (`true`: its defaults): hot values served from memory
     * for up to `l1.ttlSeconds`. Off by default. See `withL1`.
     */
    l1: optional(trueOr(L1OptionsCodec)),
    /**
     * Single flight and invalidation across replicas, through the state store (`true`: its defaults).
     * Off by default. See `withLease`.
     */
    lease: optional(trueOr(LeaseOptionsCodec)),
    /**
     * An invalidation on any replica wins over a load under way on another, without a lease: the
     * keys get generations (`lease` brings them too). Off by default. See `withGenerations`.
     */
    generations: optional(t.boolean),
    /**
     * Replicas tell each other of every write and invalidation over Dapr pub/sub, so that no replica's
     * in-process tier serves what another changed (`true`: the process's default backplane, or one
     * made with `backplane(...)`). Off by default. See `withBackplane` and docs/replicas.md.
     */
    backplane: optional(t.union([t.literal(true), backplaneCodec], 'true or a backplane (see backplane())')),
    /**
     * Which tags each value carries, `(args, value) => tags`: `invalidateTag(tag)` then deletes every
     * entry carrying one. Off by default. See `withTags`.
     */
    tags: optional(tagsCodec),
    /**
     * Stale values when the function fails or times out, for up to `maxStaleSeconds` after expiry,
     * and a rest for a failing function (`true`: its defaults). Off by default. See `withFailSafe`.
     */
    failSafe: optional(trueOr(FailSafeOptionsCodec)),
    /** How long callers wait for the function on a miss (`softMs` needs `failSafe`). See `withTimeouts`. */
    timeouts: optional(TimeoutsOptionsCodec),
    /** Background refresh of entries near their expiry (`true`: `{ threshold: 0.8 }`). See `withRefreshAhead`. */
    refreshAhead: optional(trueOr(RefreshAheadOptionsCodec)),
    /** Spreads each write's TTL by up to this fraction of itself (`0.1`: 90-110 s for 100 s). See `withJitter`. */
    jitter: optional(JitterCodec),
    /**
     * A miss answers as soon as the value is computed, and its write finishes in the background (the
     * key stays in flight until it lands). Off by default. See `withBackgroundWrites`.
     */
    backgroundWrites: optional(t.boolean),
    /** Where the ages of entries come from (default: the system clock). See `withClock`. */
    clock: optional(clockCodec),
    /**
     * Errors the function throws that `when(error)` chooses (a not-found, say) are remembered for
     * `ttlSeconds` (default 30) and thrown again on the next calls without running it. Off by
     * default. See `withNegativeCache`.
     */
    negativeCache: optional(NegativeCacheOptionsCodec),
  },
  'option',
)

/**
 * @category model
 * @since 0.1.0
 */
export type CacheableOptions = t.TypeOf<typeof CacheableOptionsCodec>

/**
 * A function wrapped by `cacheable`: same parameters, a Promise of the same result, and `invalidate`.
 * Calls that wait on one computation (concurrent calls with the same key) get the same Promise, as
 * they get the same value; a call made after it settled gets a new one.
 *
 * @category model
 * @since 0.1.0
 */
export interface CacheableFunction<Args extends ReadonlyArray<unknown>, R> {
  (...args: Args): Promise<R>
  /** Drops the entry for these arguments. Rejects with a `CacheError` when the store could not do it. */
  readonly invalidate: (...args: Args) => Promise<void>
  /**
   * Deletes every entry carrying one of these tags (of every function with the same key prefix and
   * store), and tells the replicas when there is a backplane. Rejects with a `CacheError` when the
   * store could not do it, or a tag is not one (empty, over 1 KiB, not a string).
   */
  readonly invalidateTag: (tags: string | ReadonlyArray<string>) => Promise<TagInvalidation>
  /**
   * How many keys have a call in flight now (the single flight's size), plus the work under way in
   * the background (a refresh ahead, a computation past its timeout, a background write).
   */
  readonly pending: () => number
  /**
   * Calls it once per argument list, as one batch: one bulk read for all their keys, the misses
   * computed (each under the single flight and the lease where they are on), one bulk save for the
   * values computed. Resolves to the results in the order asked, or rejects with the first failure
   * in that order (as `Promise.all`, once every call is done); arguments with one key are looked up
   * once. Rejects with a `CacheOptionsError` when `argsList` is not an array of arrays.
   */
  readonly many: (argsList: ReadonlyArray<Args>) => Promise<Array<R>>
  /** As `many`, each call's own outcome (as `Promise.allSettled`): never rejects for one call's failure. */
  readonly manySettled: (argsList: ReadonlyArray<Args>) => Promise<Array<PromiseSettledResult<R>>>
}

/**
 * The options of `cacheable`, with the types a `tags` function annotated in them takes (to check
 * them against the function wrapped).
 *
 * @category model
 * @since 0.5.0
 */
export type CacheableOptionsOf<TagArgs, TagValue> = Omit<CacheableOptions, 'tags'> & {
  /** Which tags each value carries, `(args, value) => tags` (see `withTags`). */
  readonly tags?: TagsOf<TagArgs, TagValue> | undefined
}

/**
 * What `cacheable(options)` returns: a function wrapper and a standard method decorator in one.
 * Decorated methods must return a Promise (declare them `async`), since the cached method does.
 *
 * @category model
 * @since 0.1.0
 */
export interface Cacheable<TagArgs = ReadonlyArray<unknown>, TagValue = unknown> {
  <Args extends TagArgs & ReadonlyArray<unknown>, R extends TagValue | PromiseLike<TagValue>>(fn: (...args: Args) => R): CacheableFunction<Args, Awaited<R>>
  <This, Args extends TagArgs & ReadonlyArray<unknown>, R extends Promise<TagValue>>(
    method: (this: This, ...args: Args) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R
}

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

const fail = (error: CacheErrorValue): never => {
  throw toError(error)
}

/** Checks every option once, at wrap time, and resolves the defaults. */
const resolve = (given: CacheableOptions) => {
  const options = checkOption('', CacheableOptionsCodec, given)
  if (options.store !== undefined && options.storeName !== undefined) {
    fail(CE.invalidOptions('storeName', options.storeName, 'no storeName when a store is given (the store already names its own)'))
  }
  if (options.timeouts?.softMs !== undefined && options.failSafe === undefined) {
    fail(CE.invalidOptions('timeouts.softMs', options.timeouts.softMs, 'failSafe as well (a soft timeout serves the stale value fail-safe keeps)'))
  }
  const metrics = options.metrics
  const tracer = options.tracer
  return {
    store: options.store ?? daprStore({ storeName: options.storeName ?? 'cache' }),
    ttlSeconds: options.ttlSeconds ?? 3600,
    l1: options.l1 === undefined ? undefined : options.l1 === true ? {} : options.l1,
    generations: options.generations ?? false,
    tags: options.tags,
    backplane: options.backplane === undefined ? undefined : options.backplane === true ? defaultBackplane() : options.backplane,
    lease: options.lease === undefined ? undefined : { logger: options.logger, ...(options.lease === true ? {} : options.lease) },
    failSafe: options.failSafe,
    timeouts: options.timeouts,
    refreshAhead: options.refreshAhead,
    jitter: options.jitter ?? 0,
    backgroundWrites: options.backgroundWrites ?? false,
    negativeCache: options.negativeCache,
    clock: options.clock,
    prefix: options.keyPrefix ?? 'cache',
    name: options.name,
    keyBuilder: options.keyBuilder,
    serializer: options.serializer,
    metrics: metrics === undefined ? [] : isSinkList(metrics) ? metrics : [metrics],
    tracer: tracer === undefined || tracer === false ? undefined : tracer === true ? trace.getTracer('dapr-state-cache') : tracer,
    onCacheError: cacheWarnings({ logger: options.logger }),
  }
}

const isSinkList = (metrics: CacheMetrics | ReadonlyArray<CacheMetrics>): metrics is ReadonlyArray<CacheMetrics> => Array.isArray(metrics)

type Resolved = ReturnType<typeof resolve>

// -------------------------------------------------------------------------------------
// wrapping
// -------------------------------------------------------------------------------------

const pipeline = (resolved: Resolved, fn: AnyFunction, name: string | undefined): Cached<ReadonlyArray<unknown>, unknown, unknown> => {
  const options = resolved.lease
  const start = plan(resolved.store, fn, 'promise')
  // The facade is the pipeline's plan with every part its options chose, built as any plan is.
  const cached = fromPlan<ReadonlyArray<unknown>, unknown, unknown>({
    ...start,
    name,
    prefix: resolved.prefix,
    keyBuilder: resolved.keyBuilder,
    ttlSeconds: resolved.ttlSeconds,
    serializer: resolved.serializer ?? start.serializer,
    dedup: dedup(),
    l1: resolved.l1 === undefined ? undefined : l1(resolved.l1),
    lease: options === undefined ? undefined : (store) => lease(store, options),
    generations: options !== undefined ? leaseGenerations(options) : resolved.generations ? (store) => generations(store) : undefined,
    backplane: resolved.backplane,
    tags: resolved.tags,
    failSafe: resolved.failSafe === undefined ? undefined : failSafe(resolved.failSafe),
    timeouts: resolved.timeouts,
    refreshAhead: resolved.refreshAhead === undefined ? undefined : refreshAhead(resolved.refreshAhead),
    jitter: resolved.jitter,
    backgroundWrites: resolved.backgroundWrites,
    clock: resolved.clock ?? start.clock,
    metrics: resolved.metrics,
    onCacheError: resolved.onCacheError,
    tracer: resolved.tracer,
  })
  const negative = resolved.negativeCache
  // `when` is there: the option's codec refuses it missing.
  return negative?.when === undefined ? cached : withNegativeCache({ ttlSeconds: negative.ttlSeconds, when: negative.when })(cached)
}

/** The function's own failure as it was thrown; the timeout of `timeouts.hardMs` as its class. */
const failure = (left: unknown): unknown => (CE.isFunctionTimeout(left) ? toError(left) : left)

const unwrap = <A>(result: E.Either<unknown, A>): A => {
  if (E.isLeft(result)) throw failure(result.left)
  return result.right
}

/** Where a computation's promise keeps the promise the facade made of it (see `settle`). */
const SETTLED = Symbol('dapr-state-cache/settled')

type Pending = Promise<E.Either<unknown, unknown>> & { [SETTLED]?: Promise<unknown> }

/**
 * The promise of the calls that wait on one computation: the same for all of them, kept on the
 * computation's own, so that the computation wakes one reaction and not one per caller (a table of
 * them cost every call more).
 */
const shared = (pending: Pending): Promise<unknown> => (pending[SETTLED] ??= pending.then(unwrap))

/** The call's promise: made straight from the outcome when the engine knew it at once. */
const settle = (outcome: E.Either<unknown, unknown> | Promise<E.Either<unknown, unknown>>): Promise<unknown> => {
  if (isThenable(outcome)) return shared(outcome)
  // The function's own failure, passed through as it was thrown, whatever it is.
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
  return E.isLeft(outcome) ? Promise.reject(failure(outcome.left)) : Promise.resolve(outcome.right)
}

const invalidation = (result: E.Either<CacheErrorValue, void>): void => {
  if (E.isLeft(result)) throw toError(result.left)
}

const orThrow = <A>(result: E.Either<CacheErrorValue, A>): A => {
  if (E.isLeft(result)) throw toError(result.left)
  return result.right
}

const INVALIDATE = Symbol('dapr-state-cache/invalidate')

const wrapFunction = (resolved: Resolved, fn: AnyFunction): CacheableFunction<ReadonlyArray<unknown>, unknown> => {
  const name = resolved.name ?? functionName(fn)
  if (name === undefined) {
    fail(CE.invalidOptions('name', undefined, 'a name for an anonymous function (it is part of every key)'))
  }
  const cached = pipeline(resolved, fn, name)
  const run = runnerOf(cached)
  const invalidate = (...args: ReadonlyArray<unknown>): Promise<void> => cached.invalidate(...args)().then(invalidation)
  const invalidateTag = (tags: string | ReadonlyArray<string>): Promise<TagInvalidation> => cached.invalidateTag(tags)().then(orThrow)
  const wrapped = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<unknown> {
    return settle(run(this, args))
  }
  const manySettled = async (argsList: ReadonlyArray<ReadonlyArray<unknown>>): Promise<Array<PromiseSettledResult<unknown>>> =>
    (await cached.many(argsList)()).map((outcome) => (E.isRight(outcome) ? { status: 'fulfilled', value: outcome.right } : { status: 'rejected', reason: failure(outcome.left) }))
  const many = async (argsList: ReadonlyArray<ReadonlyArray<unknown>>): Promise<Array<unknown>> => (await cached.many(argsList)()).map(unwrap)
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  Object.defineProperty(wrapped, 'length', { value: fn.length })
  Object.defineProperty(wrapped, 'invalidate', { value: invalidate })
  Object.defineProperty(wrapped, 'invalidateTag', { value: invalidateTag })
  Object.defineProperty(wrapped, 'pending', { value: cached.pending })
  Object.defineProperty(wrapped, 'many', { value: many })
  Object.defineProperty(wrapped, 'manySettled', { value: manySettled })
  Object.defineProperty(wrapped, INVALIDATE, { value: invalidate })
  return wrapped as CacheableFunction<ReadonlyArray<unknown>, unknown>
}

/** The class that owns `method` as `property`, found from the receiver of a call. */
const ownerOf = (receiver: unknown, property: string | symbol, method: AnyFunction): AnyFunction | undefined => {
  if (typeof receiver === 'function') return receiver as AnyFunction // a static method: the class itself
  for (let proto: unknown = receiver; proto !== null && typeof proto === 'object'; proto = Object.getPrototypeOf(proto)) {
    const own = Object.getOwnPropertyDescriptor(proto, property)
    if (own?.value === method) return (proto as { constructor?: AnyFunction }).constructor
  }
  return undefined
}

/**
 * The names given to decorated methods of each class, with the method each was given to: a static
 * and an instance method of one name, or two methods named by symbols of one description, would
 * otherwise share every key (and each other's values).
 */
const derivedNames = new WeakMap<object, Map<string, AnyFunction>>()

/** `name` for `method` of `owner`, unless another method of that class has it already. */
const claimName = (owner: object, name: string, method: AnyFunction): boolean => {
  const names = derivedNames.get(owner) ?? new Map<string, AnyFunction>()
  derivedNames.set(owner, names)
  const holder = names.get(name)
  if (holder !== undefined && holder !== method) return false
  names.set(name, method)
  return true
}

const decorate = (
  resolved: Resolved,
  method: AnyFunction,
  context: ClassMethodDecoratorContext,
): ((this: unknown, ...args: ReadonlyArray<unknown>) => Promise<unknown>) => {
  if (context.kind !== 'method') {
    fail(CE.invalidOptions('decorator target', context.kind, 'a method (cacheable decorates methods only)'))
  }
  const methodName = String(context.name)
  // Keys do not include `this`: every instance shares one pipeline. Its name (`Class.method`) needs
  // the class that owns the method, known only from a receiver: the class itself for a static method
  // (when the class is defined), the first instance otherwise (when it is constructed).
  let cached: Cached<ReadonlyArray<unknown>, unknown, unknown> | undefined
  const pipelineFor = (receiver: unknown) => {
    if (cached === undefined) {
      const owner = context.private ? (receiver as { constructor?: AnyFunction } | null)?.constructor : ownerOf(receiver, context.name, replacement)
      const className = owner === undefined ? undefined : functionName(owner)
      const derived = className === undefined ? undefined : `${className}.${methodName}`
      // A name no key can hold (a method named with a colon, say), or one another method of the
      // class holds already, is found only now, at the first construction: the calls run uncached,
      // each with a KeyError that says so, rather than the construction failing.
      const usable = derived !== undefined && owner !== undefined && isKeyName(derived) && claimName(owner, derived, method)
      const name = resolved.name ?? (usable ? derived : undefined)
      cached = pipeline(resolved, method, name)
    }
    return cached
  }
  context.addInitializer(function (this: unknown) {
    pipelineFor(this)
  })
  const replacement = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<unknown> {
    return settle(runnerOf(pipelineFor(this))(this, args))
  }
  const invalidate = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<void> {
    return pipelineFor(this).invalidate(...args)().then(invalidation)
  }
  Object.defineProperty(replacement, 'name', { value: methodName })
  Object.defineProperty(replacement, 'invalidate', { value: invalidate })
  Object.defineProperty(replacement, 'invalidateTag', {
    value: function (this: unknown, tags: string | ReadonlyArray<string>): Promise<TagInvalidation> {
      return pipelineFor(this).invalidateTag(tags)().then(orThrow)
    },
  })
  Object.defineProperty(replacement, INVALIDATE, { value: invalidate })
  return replacement
}

const wrapper = (options: CacheableOptions): Cacheable => {
  const resolved = resolve(options)
  return ((target: AnyFunction, context?: ClassMethodDecoratorContext) => {
    if (typeof target !== 'function') fail(CE.invalidOptions('fn', target, 'a function to cache'))
    return context === undefined ? wrapFunction(resolved, target) : decorate(resolved, target, context)
  }) as unknown as Cacheable
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Wraps a function with the default options.
 *
 * @category constructors
 * @since 0.1.0
 */
export function cacheable<Args extends ReadonlyArray<unknown>, R>(fn: (...args: Args) => R): CacheableFunction<Args, Awaited<R>>
/**
 * Decorates a method with the default options (`@cacheable`).
 *
 * @category constructors
 * @since 0.1.0
 */
export function cacheable<This, Args extends ReadonlyArray<unknown>, R extends Promise<unknown>>(
  method: (this: This, ...args: Args) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
): (this: This, ...args: Args) => R
/**
 * A wrapper (and method decorator) with these options: `cacheable(options)(fn)`, `@cacheable(options)`.
 *
 * @category constructors
 * @since 0.1.0
 */
export function cacheable<TagArgs = ReadonlyArray<unknown>, TagValue = unknown>(options: CacheableOptionsOf<TagArgs, TagValue>): Cacheable<TagArgs, TagValue>
export function cacheable(
  target: AnyFunction | CacheableOptions,
  context?: ClassMethodDecoratorContext,
): Cacheable | CacheableFunction<ReadonlyArray<unknown>, unknown> | ((this: unknown, ...args: ReadonlyArray<unknown>) => unknown) {
  if (typeof target !== 'function') return wrapper(target)
  const wrap = wrapper({}) as (target: AnyFunction, context?: ClassMethodDecoratorContext) => CacheableFunction<ReadonlyArray<unknown>, unknown>
  return wrap(target, context)
}

/**
 * Drops the entry of a `cacheable` function or decorated method for these arguments:
 * `await invalidate(service.getUser, 42)`. Useful for methods, whose declared type does not show
 * the `invalidate` the decorator attaches.
 *
 * @category utils
 * @since 0.1.0
 */
export const invalidate = <Args extends ReadonlyArray<unknown>>(
  fn: (...args: Args) => unknown,
  ...args: Args
): Promise<void> => {
  const drop = (fn as unknown as { [INVALIDATE]?: (...args: Args) => Promise<void> })[INVALIDATE]
  if (drop === undefined) {
    return Promise.reject(toError(CE.invalidOptions('fn', fn, 'a function made by cacheable')))
  }
  return drop(...args)
}
