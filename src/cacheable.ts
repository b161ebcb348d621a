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
import type { Tracer } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import type { CacheError as CacheErrorValue } from './CacheError.js'
import * as CE from './CacheError.js'
import { dedup } from './Dedup.js'
import { toError } from './errors.js'
import type { AnyFunction, KeyBuilder } from './Key.js'
import { checkKeyPart, functionName } from './Key.js'
import type { Logger } from './Logger.js'
import { cacheWarnings } from './Logger.js'
import type { CacheMetrics } from './Metrics.js'
import type { Cached, Definition } from './Pipeline.js'
import { define, fromDefinition, runnerOf } from './Pipeline.js'
import type { Serializer } from './Serializer.js'
import type { Store } from './Store.js'
import { daprStore } from './DaprStore.js'
import type { L1Options } from './L1.js'
import { l1, l1Options } from './L1.js'
import type { LeaseOptions } from './Lease.js'
import { leaseOptions } from './Lease.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface CacheableOptions {
  /** The store to cache in (default: the Dapr store named `storeName`, at the sidecar the environment names). */
  readonly store?: Store | undefined
  /** The Dapr state store's name (default `"cache"`); used by the default store only. */
  readonly storeName?: string | undefined
  /** Seconds a value lives (default 3600); a positive integer. */
  readonly ttlSeconds?: number | undefined
  /** First part of every key (default `"cache"`). */
  readonly keyPrefix?: string | undefined
  /** The function's name in keys (default: its own name; `Class.method` for methods). */
  readonly name?: string | undefined
  /** Builds the whole key instead of the default builder. */
  readonly keyBuilder?: KeyBuilder | undefined
  /** Values to bytes and back (default: MessagePack). */
  readonly serializer?: Serializer | undefined
  /** Where hits, misses, writes and errors are recorded; several sinks may be given. */
  readonly metrics?: CacheMetrics | ReadonlyArray<CacheMetrics> | undefined
  /** Where rate-limited warnings about cache failures go (default `console`). */
  readonly logger?: Logger | undefined
  /** Traces every call: an OpenTelemetry `Tracer`, or `true` for the global one. Off by default. */
  readonly tracer?: Tracer | boolean | undefined
  /**
   * An in-process tier in front of the store (`true`: its defaults): hot values served from memory
   * for up to `l1.ttlSeconds`. Off by default. See `withL1`.
   */
  readonly l1?: true | L1Options | undefined
  /**
   * Single flight and invalidation across replicas, through the state store (`true`: its defaults).
   * Off by default. See `withLease`.
   */
  readonly lease?: true | LeaseOptions | undefined
}

/**
 * A function wrapped by `cacheable`: same parameters, a Promise of the same result, and `invalidate`.
 *
 * @category model
 * @since 0.1.0
 */
export interface CacheableFunction<Args extends ReadonlyArray<unknown>, R> {
  (...args: Args): Promise<R>
  /** Drops the entry for these arguments. Rejects with a `CacheError` when the store could not do it. */
  readonly invalidate: (...args: Args) => Promise<void>
  /** How many keys have a call in flight now (the single flight's size). */
  readonly pending: () => number
}

/**
 * What `cacheable(options)` returns: a function wrapper and a standard method decorator in one.
 * Decorated methods must return a Promise (declare them `async`), since the cached method does.
 *
 * @category model
 * @since 0.1.0
 */
export interface Cacheable {
  <Args extends ReadonlyArray<unknown>, R>(fn: (...args: Args) => R): CacheableFunction<Args, Awaited<R>>
  <This, Args extends ReadonlyArray<unknown>, R extends Promise<unknown>>(
    method: (this: This, ...args: Args) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R
}

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

const known: ReadonlySet<string> = new Set<keyof CacheableOptions>([
  'store',
  'storeName',
  'ttlSeconds',
  'keyPrefix',
  'name',
  'keyBuilder',
  'serializer',
  'metrics',
  'logger',
  'tracer',
  'l1',
  'lease',
])

const fail = (error: CacheErrorValue): never => {
  throw toError(error)
}

const hasMethods = (u: unknown, ...methods: ReadonlyArray<string>): boolean =>
  typeof u === 'object' && u !== null && methods.every((m) => typeof (u as Record<string, unknown>)[m] === 'function')

/** Checks every option once, at wrap time, and resolves the defaults. */
const resolve = (options: CacheableOptions) => {
  if (typeof options !== 'object' || options === null) fail(CE.invalidOptions('options', options, 'an options object'))
  for (const option of Object.keys(options)) {
    if (!known.has(option)) {
      const near = [...known].find((name) => name.toLowerCase().startsWith(option.toLowerCase()) || option.toLowerCase().startsWith(name.toLowerCase()))
      const expected = `a known option${near === undefined ? '' : ` (did you mean \`${near}\`?)`}; the options are ${[...known].join(', ')}`
      fail(CE.invalidOptions(option, (options as Record<string, unknown>)[option], expected))
    }
  }
  const ttlSeconds = options.ttlSeconds ?? 3600
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    fail(CE.invalidOptions('ttlSeconds', ttlSeconds, 'a positive integer number of seconds'))
  }
  const storeName = E.getOrElseW(fail)(checkKeyPart('storeName', options.storeName ?? 'cache'))
  const prefix = E.getOrElseW(fail)(checkKeyPart('keyPrefix', options.keyPrefix ?? 'cache'))
  const name = options.name === undefined ? undefined : E.getOrElseW(fail)(checkKeyPart('name', options.name))
  if (options.keyBuilder !== undefined && !hasMethods(options.keyBuilder, 'buildKey')) {
    fail(CE.invalidOptions('keyBuilder', options.keyBuilder, 'an object with a buildKey(name, args) method'))
  }
  if (options.serializer !== undefined && !hasMethods(options.serializer, 'serialize', 'deserialize')) {
    fail(CE.invalidOptions('serializer', options.serializer, 'an object with serialize and deserialize methods'))
  }
  const metrics: ReadonlyArray<CacheMetrics> =
    options.metrics === undefined ? [] : Array.isArray(options.metrics) ? options.metrics : [options.metrics as CacheMetrics]
  for (const sink of metrics) {
    if (!hasMethods(sink, 'recordHit', 'recordMiss', 'recordWrite', 'recordError')) {
      fail(CE.invalidOptions('metrics', sink, 'a CacheMetrics sink (recordHit, recordMiss, recordWrite, recordError)'))
    }
  }
  const tracer =
    options.tracer === undefined || options.tracer === false
      ? undefined
      : options.tracer === true
        ? trace.getTracer('dapr-state-cache')
        : hasMethods(options.tracer, 'startSpan')
          ? options.tracer
          : fail(CE.invalidOptions('tracer', options.tracer, 'an OpenTelemetry Tracer, or true for the global one'))
  if (options.logger !== undefined && !hasMethods(options.logger, 'warn')) {
    fail(CE.invalidOptions('logger', options.logger, 'an object with a warn method'))
  }
  if (options.store !== undefined && options.storeName !== undefined) {
    fail(CE.invalidOptions('storeName', options.storeName, 'no storeName when a store is given (the store already names its own)'))
  }
  const store = options.store ?? daprStore({ storeName })
  if (!hasMethods(store, 'get', 'set', 'delete')) {
    fail(CE.invalidOptions('store', store, 'a Store (an object with get, set and delete)'))
  }
  return {
    store,
    ttlSeconds,
    l1: options.l1 === undefined ? undefined : l1Options('l1', options.l1),
    lease: options.lease === undefined ? undefined : { logger: options.logger, ...leaseOptions('lease', options.lease) },
    prefix,
    name,
    keyBuilder: options.keyBuilder,
    serializer: options.serializer,
    metrics,
    tracer,
    onCacheError: cacheWarnings({ logger: options.logger }),
  }
}

type Resolved = ReturnType<typeof resolve>

// -------------------------------------------------------------------------------------
// wrapping
// -------------------------------------------------------------------------------------

const pipeline = (resolved: Resolved, fn: AnyFunction, name: string | undefined): Cached<ReadonlyArray<unknown>, unknown, unknown> => {
  const start = define(resolved.store, fn, 'promise')
  const definition: Definition = {
    ...start,
    name,
    prefix: resolved.prefix,
    keyBuilder: resolved.keyBuilder,
    ttlSeconds: resolved.ttlSeconds,
    serializer: resolved.serializer ?? start.serializer,
    dedup: dedup(),
    l1: resolved.l1 === undefined ? undefined : l1(resolved.l1),
    lease: resolved.lease,
    metrics: resolved.metrics,
    onCacheError: resolved.onCacheError,
    tracer: resolved.tracer,
  }
  return fromDefinition(definition)
}

const unwrap = <A>(result: E.Either<unknown, A>): A => {
  if (E.isLeft(result)) throw result.left
  return result.right
}

const invalidation = (result: E.Either<CacheErrorValue, void>): void => {
  if (E.isLeft(result)) throw toError(result.left)
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
  const wrapped = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<unknown> {
    return run(this, args).then(unwrap)
  }
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  Object.defineProperty(wrapped, 'length', { value: fn.length })
  Object.defineProperty(wrapped, 'invalidate', { value: invalidate })
  Object.defineProperty(wrapped, 'pending', { value: cached.pending })
  Object.defineProperty(wrapped, INVALIDATE, { value: invalidate })
  return wrapped as CacheableFunction<ReadonlyArray<unknown>, unknown>
}

/** The class that owns `method` as `property`, found from the receiver of a call. */
const ownerName = (receiver: unknown, property: string | symbol, method: AnyFunction): string | undefined => {
  if (typeof receiver === 'function') return functionName(receiver as AnyFunction) // a static method: the class itself
  for (let proto: unknown = receiver; proto !== null && typeof proto === 'object'; proto = Object.getPrototypeOf(proto)) {
    const own = Object.getOwnPropertyDescriptor(proto, property)
    if (own?.value === method) {
      return functionName((proto as { constructor?: AnyFunction }).constructor ?? (() => undefined))
    }
  }
  return undefined
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
      const className = context.private
        ? functionName((receiver as { constructor?: AnyFunction } | null)?.constructor ?? (() => undefined))
        : ownerName(receiver, context.name, replacement)
      const name = resolved.name ?? (className === undefined ? undefined : `${className}.${methodName}`)
      cached = pipeline(resolved, method, name)
    }
    return cached
  }
  context.addInitializer(function (this: unknown) {
    pipelineFor(this)
  })
  const replacement = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<unknown> {
    return runnerOf(pipelineFor(this))(this, args).then(unwrap)
  }
  const invalidate = function (this: unknown, ...args: ReadonlyArray<unknown>): Promise<void> {
    return pipelineFor(this).invalidate(...args)().then(invalidation)
  }
  Object.defineProperty(replacement, 'name', { value: methodName })
  Object.defineProperty(replacement, 'invalidate', { value: invalidate })
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
export function cacheable(options: CacheableOptions): Cacheable
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
