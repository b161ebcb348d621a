/**
 * The functional face: lift a function into a cached one, then refine it with data-last combinators.
 *
 * ```ts
 * const getUser = pipe(
 *   loadUser,                 // (id: number) => TaskEither<LoadError, User>
 *   cache(store),             // Cached<[id: number], LoadError | CacheError, User>
 *   withKey('users.get'),
 *   withTtl(300),
 *   withDedup(),
 *   withMetrics(metrics),
 *   orElseUncached(),         // Cached<[id: number], LoadError, User>
 * )
 * ```
 *
 * A `Cached` is a function `(...args) => TaskEither<E, A>` with an `invalidate`. Each combinator
 * returns a new one built from the old one's recipe and one changed part; the order of the steps does
 * not change what a call does (the data flow is fixed, see `internal/engine.ts`), only the types.
 * Without `orElseUncached`, cache failures are values in `E` (as `CacheError`); with it they are
 * counted, reported and recovered from by running the function uncached, so `E` is the function's
 * own error type again. Mutable state (the in-flight map) is made by `withDedup()` when it is applied.
 *
 * @since 0.1.0
 */
import type { Tracer } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { Decoder } from 'io-ts'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import type { Cached, Invocation, Step } from './Cached.js'
import { around, step } from './Cached.js'
import type { Clock } from './Clock.js'
import { dedup } from './Dedup.js'
import { toError } from './errors.js'
import { runFunction } from './internal/compute.js'
import { checkOption, clockCodec, keyBuilderCodec, keyName, keyPart, loggerCodec, seconds, serializerCodec, tracerCodec } from './internal/options.js'
import type { KeyBuilder } from './Key.js'
import type { ErrorReporter, Logger } from './Logger.js'
import { cacheWarnings } from './Logger.js'
import type { CacheMetrics } from './Metrics.js'
import { metricsSinkCodec } from './Metrics.js'
import type { Serializer } from './Serializer.js'

const fail = (error: CacheError): never => {
  throw toError(error)
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * @category model
 * @since 0.1.0
 */
export interface KeyOptions {
  /** The first part of every key (default `"cache"`). */
  readonly prefix?: string | undefined
  /** Builds the whole key instead of the default builder; `prefix` is then unused. */
  readonly keyBuilder?: KeyBuilder | undefined
}

/**
 * Names the cached function in its keys (`{prefix}:{name}:{hash}`): use the Python library's
 * `module.qualname` to share entries with a Python service.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withKey = (name: string, options: KeyOptions = {}): Step => {
  const checkedName = checkOption('name', keyName, name)
  // Only the parts given: a prefix or key builder another step chose stays, wherever withKey stands.
  const parts = {
    name: checkedName,
    ...(options.prefix === undefined ? {} : { prefix: checkOption('keyPrefix', keyPart, options.prefix) }),
    ...(options.keyBuilder === undefined ? {} : { keyBuilder: checkOption('keyBuilder', keyBuilderCodec, options.keyBuilder) }),
  }
  return step('withKey', () => parts)
}

/**
 * How long a written value lives, in whole seconds: a number, or a function of the value (so that,
 * say, an empty result can live shorter than a full one).
 *
 * @category combinators
 * @since 0.1.0
 */
export function withTtl(ttlSeconds: number): Step
export function withTtl<A>(
  ttlSeconds: (value: A) => number,
): <Args extends ReadonlyArray<unknown>, Err>(self: Cached<Args, Err, A>) => Cached<Args, Err, A>
export function withTtl(ttlSeconds: number | ((value: never) => number)): Step {
  if (typeof ttlSeconds !== 'function') checkOption('ttlSeconds', seconds, ttlSeconds)
  return step('withTtl', () => ({ ttlSeconds }))
}

/**
 * Concurrent calls with the same key share one read, one computation and one write. The in-flight
 * map is made here, when the step is applied.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDedup = (): Step => step('withDedup', () => ({ dedup: dedup() }))

/**
 * A miss answers its callers as soon as the value is computed, and its write goes on in the
 * background: the key's single flight stays open until the write has landed, so calls meanwhile
 * join it (no second read or computation), `pending()` counts it, and an invalidation waits for it
 * (the write is dropped once it lands). It spares a miss one write to the store (a store that
 * writes at once, like the memory store, has none to put off); in exchange, after
 * a call returns its value may not be in the store yet, and a failed write is counted after it. It
 * applies where a failed write cannot be the result: with `withDedup` and `orElseUncached`, and to
 * untraced calls (a traced call's span covers its write). With `withLease` a miss still waits for
 * its write: the lease is held until then, so that the replicas waiting for it find the value.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withBackgroundWrites = (): Step => step('withBackgroundWrites', () => ({ backgroundWrites: true }))

/**
 * Sends hits, misses, writes and errors to `metrics`. Applied more than once, every sink records.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withMetrics = (metrics: CacheMetrics): Step => {
  checkOption('metrics', metricsSinkCodec, metrics)
  return step('withMetrics', (plan) => ({ metrics: [...plan.metrics, metrics] }))
}

/**
 * How values become bytes and back (default: MessagePack).
 *
 * @category combinators
 * @since 0.1.0
 */
export const withSerializer = (serializer: Serializer): Step => {
  checkOption('serializer', serializerCodec, serializer)
  return step('withSerializer', () => ({ serializer }))
}

/**
 * Validates every cached value with an io-ts decoder before it is served. A value that fails is
 * counted as a `ValidationError`, recomputed and overwritten, so a deploy that changes a type never
 * serves the old shape. The result takes the decoder's type.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDecoder = <A>(decoder: Decoder<unknown, A>) => {
  if (typeof decoder?.decode !== 'function') {
    fail(CE.invalidOptions('decoder', decoder, 'an io-ts decoder'))
  }
  const decode = (value: unknown): E.Either<CacheError, unknown> => {
    const result = decoder.decode(value)
    return E.isRight(result)
      ? result
      : E.left(CE.validationError(`the cached value does not match the decoder: ${PathReporter.report(result).join('; ')}`))
  }
  return <Args extends ReadonlyArray<unknown>, Err>(self: Cached<Args, Err, A>): Cached<Args, Err, A> =>
    step('withDecoder', () => ({ decode }))(self)
}

/**
 * Traces every call: a span per call (`cache <name>`, with `cache.result` = hit, miss, fallback,
 * error or coalesced) and child spans for each store round trip and for the computation on a miss.
 * The tracer defaults to the global one (`@opentelemetry/api`, a no-op until the application
 * registers an SDK). Without this step the engine makes no span and sets no attribute at all.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withTracing = (tracer: Tracer = trace.getTracer('dapr-state-cache')): Step => {
  checkOption('tracer', tracerCodec, tracer)
  return step('withTracing', () => ({ tracer }))
}

/**
 * Where time comes from for the ages of entries (fail-safe's staleness, refresh ahead's age, the
 * companion entries' write times): default the system clock. For tests, a `manualClock`.
 *
 * @category combinators
 * @since 0.3.0
 */
export const withClock = (clock: Clock): Step => {
  const checkedClock = checkOption('clock', clockCodec, clock)
  return step('withClock', () => ({ clock: checkedClock }))
}

/**
 * What `orElse` does with a failure: the call's result instead of it. It gets the failure, the
 * call's arguments and the call itself (its key, its plan).
 *
 * @category model
 * @since 0.4.0
 */
export type Fallback<Args extends ReadonlyArray<unknown>, E, E2, A> = (error: E, args: Args, call: Invocation<Args, E, A>) => TE.TaskEither<E2, A>

/** Where a fallback made by `uncached` keeps the reporter the engine recovers with. */
const RECOVERS = Symbol.for('dapr-state-cache/recovers')

/**
 * The general fallback: when the call fails, `f(error, args, call)` gives its result instead. The
 * error type becomes `f`'s: cache errors leave it unless `f` keeps them. `f` sees every failure, the
 * function's own as well as the cache's (`CE.isCacheError` tells them apart), once per call, after
 * the cache; what it returns is not cached. `orElse(uncached())` (which `orElseUncached()` is) is
 * done inside the engine instead, with the same result: see `uncached`.
 *
 * ```ts
 * pipe(loadUser, cache(store), withKey('users.get'), orElse((error, [id]) => CE.isCacheError(error) ? loadUserFromReplica(id) : TE.left(error)))
 * ```
 *
 * @category combinators
 * @since 0.4.0
 */
export const orElse = <E, Args extends ReadonlyArray<unknown>, E2, A>(
  f: Fallback<Args, E, E2, A>,
): ((self: Cached<Args, E, A>) => Cached<Args, E2, A>) => {
  if (typeof f !== 'function') fail(CE.invalidOptions('orElse: f', f, 'a function (error, args) => TaskEither'))
  const recovers = (f as { [RECOVERS]?: ErrorReporter })[RECOVERS]
  if (recovers !== undefined) {
    // `uncached`: the engine recovers in the call itself, inside the single flight (see `uncached`).
    const recovering = step('orElse', () => ({ onCacheError: recovers }))
    return (self) => recovering(self) as unknown as Cached<Args, E2, A>
  }
  return around('orElse', (call: Invocation<Args, E, A>) =>
    pipe(
      call.proceed,
      TE.orElse((error) => f(error, call.args, call)),
    ),
  )
}

/**
 * The best-effort fallback, for `orElse`: a cache failure is reported (rate-limited warnings to
 * `logger`, or `onError(key, error)`) and the call runs the function uncached; any other failure is
 * kept. Given to `orElse`, the engine does it within the call rather than after it, which a fallback
 * after the call could not: callers that joined one computation share its recovery (one uncached run,
 * not one each), a failed write returns the value already computed instead of computing it again,
 * and an entry that could not be decoded is recomputed and overwritten. Called as a plain fallback
 * (inside a fallback of your own), it runs the function uncached from the call's plan.
 *
 * @category combinators
 * @since 0.4.0
 */
export const uncached = (options: FallbackOptions = {}) => {
  if (options.logger !== undefined) checkOption('logger', loggerCodec, options.logger)
  const onCacheError = options.onError ?? cacheWarnings({ logger: options.logger })
  const fallback = <Args extends ReadonlyArray<unknown>, E, A>(error: E, args: Args, call: Invocation<Args, E, A>): TE.TaskEither<Exclude<E, CacheError>, A> => {
    if (!CE.isCacheError(error)) return TE.left(error as Exclude<E, CacheError>)
    const key = call.key()
    onCacheError(E.isRight(key) ? key.right : undefined, error)
    return () => Promise.resolve(runFunction(call.plan.fn, call.plan.lift, call.self, args)) as Promise<E.Either<Exclude<E, CacheError>, A>>
  }
  return Object.defineProperty(fallback, RECOVERS, { value: onCacheError })
}

/**
 * @category model
 * @since 0.1.0
 */
export interface FallbackOptions {
  /** Where warnings go (default `console`); they are rate-limited per error code. */
  readonly logger?: Logger | undefined
  /** Replaces the warnings altogether: called once per cache failure. */
  readonly onError?: ErrorReporter | undefined
}

/**
 * Best effort: a cache failure (key, read, decode, validation, write) is counted, reported, and the
 * call runs the function uncached instead (a failed write still returns the computed value). The
 * function's own failures are untouched: never swallowed, never cached. `CacheError` leaves the
 * error type (a `FunctionTimeout` from `withTimeouts`, which is not a failure of the cache, stays).
 * It is `orElse(uncached(options))`.
 *
 * @category combinators
 * @since 0.1.0
 */
export const orElseUncached =
  (options: FallbackOptions = {}) =>
  <Args extends ReadonlyArray<unknown>, Err, A>(self: Cached<Args, Err, A>): Cached<Args, Exclude<Err, CacheError>, A> =>
    orElse(uncached(options)<Args, Err, A>)(self)
