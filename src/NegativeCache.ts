/**
 * Negative caching: failures of the function that mean "there is nothing" (a `NotFound`) are
 * remembered for a short TTL of their own and returned as the same failure, without running the
 * function, so a missing row does not cost a query per call.
 *
 * Only the failures `when` chooses are kept: in a pipeline, `Left`s the function returned (what it
 * threw or rejected with never is); with `cacheable`, whose functions can only throw, the errors it
 * throws. A `CacheError` or a timeout is never kept. The entry lives under `<key>:neg`, in the
 * library's own key space: the value key stays empty, so a Python service reading it sees a miss.
 * An invalidation deletes it with the value.
 *
 * It is written with the public step API alone: `aroundCompute` wraps the function's computation
 * (so it runs on a miss only, inside the single flight and the lease; a call that runs uncached,
 * because the value could not be read, does not read the negative entry either) and `step` adds the
 * entry's key to the companions an invalidation deletes.
 *
 * @since 0.4.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from 'fp-ts/lib/Option.js'
import type { Cached, Compute, Computed, Plan } from './Cached.js'
import { aroundCompute, step } from './Cached.js'
import type { CacheError } from './CacheError.js'
import * as CE from './CacheError.js'
import { guarded } from './internal/guardedStore.js'
import { checked, checkOption, functionOf, group, optional, seconds } from './internal/options.js'
import { combineMetrics } from './Metrics.js'
import { msgpackSerializer, toSafe } from './Serializer.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The options of negative caching, described once for `withNegativeCache` and
 * `cacheable({ negativeCache })`: `when` (required: which failures to remember) and `ttlSeconds`
 * (default 30: how long a remembered failure is returned).
 *
 * @category model
 * @since 0.4.0
 */
export const NegativeCacheOptionsCodec = checked(
  group('NegativeCacheOptions', {
    /** How long a remembered failure is returned, in whole seconds (default 30). */
    ttlSeconds: optional(seconds),
    /** Whether to remember a failure of the function (required). */
    when: optional(functionOf<(error: unknown) => boolean>('a function of the failure that says whether to remember it')),
  }),
  (options) => (options.when === undefined ? { field: 'when', expected: 'a function of the failure that says whether to remember it' } : undefined),
)

/**
 * @category model
 * @since 0.4.0
 */
export interface NegativeCacheOptions<E> {
  /** How long a remembered failure is returned, in whole seconds (default 30). */
  readonly ttlSeconds?: number | undefined
  /** Whether to remember this failure of the function (a `NotFound`, say). */
  readonly when: (error: E) => boolean
}

/** The key of the negative entry of a value key: the library's own key space, never a value key. */
export const negativeKey = (key: string): string => `${key}:neg`

/** An entry's layout, version 1: `[1, 0, failure]` for data, `[1, 1, name, message, fields]` for an `Error`. */
type Entry = readonly [1, 0, unknown] | readonly [1, 1, string, string, Readonly<Record<string, unknown>>]

const codec = toSafe(msgpackSerializer())

const encode = (failure: unknown): E.Either<CacheError, Uint8Array> => {
  try {
    const entry: Entry = CE.isInstance(failure, Error) ? [1, 1, failure.name, failure.message, { ...failure }] : [1, 0, failure]
    return codec.trySerialize(entry)
  } catch (cause) {
    // A failure that cannot be looked at (a Proxy that throws, say) is not remembered.
    return E.left(CE.serializationError('serialize', `cannot remember the failure: ${CE.messageOf(cause)}`))
  }
}

const notOurs = (): E.Either<CacheError, unknown> => E.left(CE.serializationError('deserialize', 'not a negative entry of this library'))

/** An `Error` named and worded as stored, with its stored fields as own properties (never a prototype). */
const revive = (name: string, message: string, fields: object): Error => {
  const revived = new Error(message)
  for (const [field, value] of Object.entries(fields)) {
    Object.defineProperty(revived, field, { value, enumerable: true, writable: true, configurable: true })
  }
  revived.name = name
  return revived
}

const decode = (bytes: Uint8Array): E.Either<CacheError, unknown> =>
  pipe(
    codec.tryDeserialize(bytes),
    E.flatMap((entry) => {
      if (!Array.isArray(entry)) return notOurs()
      const [version, kind, first, second, fields] = entry as ReadonlyArray<unknown>
      if (version !== 1) return notOurs()
      if (kind === 0 && entry.length === 3) return E.right(first)
      if (kind === 1 && entry.length === 5 && typeof first === 'string' && typeof second === 'string' && typeof fields === 'object' && fields !== null) {
        return E.right(revive(first, second, fields))
      }
      return notOurs()
    }),
  )

// -------------------------------------------------------------------------------------
// internal
// -------------------------------------------------------------------------------------

/** The computation with negative caching around it, for the finished `plan`. */
const remembering = (next: Compute, plan: Plan, ttlSeconds: number, when: (error: unknown) => boolean): Compute => {
  const store = guarded(plan.store)
  const metrics = combineMetrics(plan.metrics)
  const context = { name: plan.name, store: store.name }
  // With `cacheable` the function can only throw: its thrown errors are the failures to choose from.
  const thrownCounts = plan.lift === 'promise'
  const trouble = (key: string, error: CacheError): void => {
    const located = CE.withKey(key)(error)
    metrics.recordError(key, located, context)
    plan.onCacheError?.(key, located)
  }
  const chosen = (computed: Computed): boolean => {
    if (E.isRight(computed) || (computed.thrown === true && !thrownCounts)) return false
    if (CE.isCacheError(computed.left) || CE.isFunctionTimeout(computed.left)) return false
    try {
      return when(computed.left)
    } catch {
      return false
    }
  }
  return (computation) => {
    const key = computation.key
    // A call that runs uncached (the store could not be read) reads no negative entry either: the
    // store's trouble costs the call once, not twice.
    if (key === undefined || !computation.current()) return next(computation)
    const entry = negativeKey(key)
    return (async (): Promise<Computed> => {
      const found = await store.get(entry)()
      if (E.isLeft(found)) trouble(key, found.left)
      else if (O.isSome(found.right)) {
        const remembered = decode(found.right.value)
        if (E.isRight(remembered)) {
          computation.ownHit()
          metrics.recordNegativeHit?.(key, context)
          return E.left(remembered.right)
        }
        trouble(key, remembered.left)
      }
      const computed = await next(computation)
      // Kept only while no invalidation came since the computation began, here or on another replica
      // (with generations), as the engine keeps values.
      if (chosen(computed) && (await computation.currentEverywhere())) {
        const keeping = (async (): Promise<void> => {
          const bytes = encode((computed as E.Left<unknown>).left)
          const written = E.isLeft(bytes) ? bytes : await store.set(entry, bytes.right, ttlSeconds)()
          if (E.isLeft(written)) trouble(key, written.left)
          else if (!(await computation.currentEverywhere())) {
            const dropped = await store.delete(entry)()
            if (E.isLeft(dropped)) trouble(key, dropped.left)
          }
        })()
        // An invalidation of the key that comes while the entry is on its way waits for it.
        computation.landing(keeping)
        await keeping
      }
      return computed
    })()
  }
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Remembers the failures `when` chooses for `ttlSeconds` (default 30) and returns them on the next
 * misses as the same `Left`, without running the function. Only `Left`s the function returned are
 * chosen from, never what it threw, a `CacheError` or a timeout (so `when` is typed with the
 * pipeline's errors other than `CacheError`). The failure must be data that
 * MessagePack keeps (an `Error` keeps its name, message and own fields, not its class). A negative
 * hit is counted as a hit of its own kind (`recordNegativeHit`), not as a miss.
 *
 * ```ts
 * pipe(loadUser, cache(store), withKey('users.get'), withNegativeCache({ ttlSeconds: 30, when: (error) => error._tag === 'NotFound' }))
 * ```
 *
 * @category combinators
 * @since 0.4.0
 */
export const withNegativeCache = <E>(
  options: NegativeCacheOptions<Exclude<E, CacheError>>,
): (<Args extends ReadonlyArray<unknown>, A>(self: Cached<Args, E, A>) => Cached<Args, E, A>) => {
  const decoded = checkOption('negativeCache', NegativeCacheOptionsCodec, options)
  const ttlSeconds = decoded.ttlSeconds ?? 30
  const when = options.when as (error: unknown) => boolean
  const wrap = aroundCompute('withNegativeCache', (next, plan) => remembering(next, plan, ttlSeconds, when))
  const invalidated = step('withNegativeCache', (plan) => ({ companions: [...plan.companions, negativeKey] }))
  return (self) => invalidated(wrap(self))
}

