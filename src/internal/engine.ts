/**
 * The one engine behind both faces: what a cached call does, given a finished recipe.
 *
 * The data flow is fixed (key, single-flight gate, read, decode, validate; on a miss, compute,
 * serialize, write); the recipe only supplies its parts. It is written as one async function per
 * call rather than a chain of `TaskEither` steps because it is the hot path: one promise per call
 * instead of one per step. Its contract is still `TaskEither`'s: it never rejects, every failure is
 * a `Left`.
 *
 * Cache failures go to the metrics and then either become the result (strict recipe) or are reported
 * and recovered from by running the function uncached (`onCacheError` set, see `orElseUncached`).
 * The function's own failure is returned as is and never written.
 */
import type { Tracer } from '@opentelemetry/api'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../CacheError.js'
import * as CE from '../CacheError.js'
import type { Dedup } from '../Dedup.js'
import type { Fence } from './fence.js'
import type { L1 } from '../stores/L1.js'
import type { Lease } from '../Lease.js'
import type { CallSpan } from './tracing.js'
import { endStoreSpan, startCall } from './tracing.js'
import type { ErrorReporter } from '../Logger.js'
import type { CacheMetrics, MetricsContext } from '../Metrics.js'
import type { SafeSerializer } from '../Serializer.js'
import type { Store } from '../Store.js'
import { isThenable } from './thenable.js'
import type { Clock } from '../Clock.js'
import type { FailSafe } from '../FailSafe.js'
import { jittered } from '../Jitter.js'
import type { EntryMeta } from './meta.js'
import { decodeMeta, encodeMeta, expiresAt, metaKey } from './meta.js'
import type { RefreshAhead } from '../RefreshAhead.js'
import type { TimeoutsOptions } from '../Timeouts.js'

/** Builds the key for one call's arguments. */
export type KeyFunction = (args: ReadonlyArray<unknown>) => E.Either<CacheError, string>

/** What the engine runs: everything a pipeline's combinators decided, resolved. */
export interface Recipe {
  /** The user's function; returns a `TaskEither`, a Promise, or a plain value (see `lift`). */
  readonly fn: (this: unknown, ...args: ReadonlyArray<never>) => unknown
  /** `'auto'`: a returned function is a `TaskEither`; `'promise'`: the result is a value or a Promise. */
  readonly lift: 'auto' | 'promise'
  readonly store: Store
  readonly name: string | undefined
  readonly key: KeyFunction
  readonly ttlSeconds: number | ((value: unknown) => number)
  readonly serializer: SafeSerializer
  readonly decode: ((value: unknown) => E.Either<CacheError, unknown>) | undefined
  readonly dedup: Dedup | undefined
  /** Keeps a computation that began before an invalidation from storing its value. */
  readonly fence: Fence
  /** The in-process tier, read before anything else and filled by every store hit and write. */
  readonly l1: L1 | undefined
  /** Single flight and invalidation across replicas, through the store; per process without it. */
  readonly lease: Lease | undefined
  /** `context` with `tier: 'l1'`, for hits the in-process tier served. */
  readonly l1Context: MetricsContext
  readonly metrics: CacheMetrics
  /** Whether anything records latencies (when not, no clock is read). */
  readonly timed: boolean
  /** Passed with every metrics record: which function, which store. */
  readonly context: MetricsContext
  /** Records a call that joined a flight, when a sink wants to know (made once per recipe). */
  readonly coalesced: ((key: string) => void) | undefined
  /** Spans for every call when set; nothing at all when not. */
  readonly tracer: Tracer | undefined
  /** Set: cache failures are reported here and the call runs uncached. Unset: they are the result. */
  readonly onCacheError: ErrorReporter | undefined
  /** Stale values for failures and timeouts, and the throttle of a failing function. */
  readonly failSafe: FailSafe | undefined
  /** How long callers wait for the function on a miss. */
  readonly timeouts: TimeoutsOptions | undefined
  /** When a hit starts a background refresh. */
  readonly refreshAhead: RefreshAhead | undefined
  /** The fraction each write's TTL is spread by; 0 for none. */
  readonly jitter: number
  /** Where the ages of entries come from. */
  readonly clock: Clock
  /** Whether each value gets its companion entry, `<key>:meta` (fail-safe or refresh ahead). */
  readonly keepsMeta: boolean
  /**
   * Work no caller waits for, one per key: refreshes ahead, computations past their timeouts. It
   * lands with an outcome, or with undefined when it made none (another replica refreshed the key).
   */
  readonly background: Map<string, Promise<Outcome | undefined>>
}

type Outcome = E.Either<unknown, unknown>

/** A soft timeout's answer: the stale value callers get while the computation goes on. */
interface StaleAnswer {
  readonly _tag: 'Stale'
  readonly value: unknown
}

const fail = (failure: unknown): Outcome => E.left(failure)

/**
 * Runs the user's function, whatever it returns, as an `Either` of its own failure or its value: at
 * once when the function answered synchronously, as a promise (that never rejects) when it did not.
 */
const compute = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>): Outcome | Promise<Outcome> => {
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

/** The TTL when it does not depend on the value; otherwise a day, for keys that must outlive any entry. */
const ttlOr = (recipe: Recipe): number => (typeof recipe.ttlSeconds === 'number' ? recipe.ttlSeconds : 86_400)

/** The TTL for `value`: a positive whole number of seconds, or the error that says what was wrong. */
const ttlFor = (recipe: Recipe, value: unknown): number | E.Left<CacheError> => {
  const ttl = typeof recipe.ttlSeconds === 'number' ? recipe.ttlSeconds : recipe.ttlSeconds(value)
  return Number.isSafeInteger(ttl) && ttl > 0 ? ttl : { _tag: 'Left', left: CE.invalidOptions('ttlSeconds', ttl, 'a positive integer number of seconds') }
}

type Written = E.Either<CacheError, Uint8Array>

/**
 * Serializes and stores a fresh value (and its companion entry, when the recipe keeps one); records
 * the write when the store took it. Gives the bytes written: at once from a store that writes
 * synchronously (untraced calls), else as a promise.
 */
const write = (recipe: Recipe, key: string, value: unknown, call: CallSpan | undefined, computeMs: number): Written | Promise<Written> => {
  const base = ttlFor(recipe, value)
  if (typeof base !== 'number') return base
  const ttl = recipe.jitter > 0 ? jittered(base, recipe.jitter) : base
  const bytes = recipe.serializer.trySerialize(value)
  if (E.isLeft(bytes)) return bytes
  const started = recipe.timed ? performance.now() : 0
  const writeNow = recipe.store.writeNow
  if (writeNow !== undefined && call === undefined) {
    if (recipe.keepsMeta) {
      const meta = companion(recipe, ttl, bytes.right, computeMs)
      metaWritten(recipe, key, writeNow(metaKey(key), meta.bytes, meta.ttlSeconds))
    }
    return wrote(recipe, key, bytes, started, writeNow(key, bytes.right, ttl))
  }
  const span = call?.store('set')
  const storing = recipe.store.set(key, bytes.right, ttl)()
  const meta = recipe.keepsMeta ? companion(recipe, ttl, bytes.right, computeMs) : undefined
  const metaStoring = meta === undefined ? undefined : recipe.store.set(metaKey(key), meta.bytes, meta.ttlSeconds)()
  return storing.then(async (stored) => {
    if (span !== undefined) endStoreSpan(span, E.isLeft(stored) ? stored.left : undefined)
    if (metaStoring !== undefined) metaWritten(recipe, key, await metaStoring)
    return wrote(recipe, key, bytes, started, stored)
  })
}

const wrote = (recipe: Recipe, key: string, bytes: E.Right<Uint8Array>, started: number, stored: E.Either<CacheError, void>): Written => {
  if (E.isLeft(stored)) return stored
  if (recipe.timed) recipe.metrics.recordWrite(key, bytes.right.byteLength, { ...recipe.context, latencyMs: performance.now() - started })
  return bytes
}

/**
 * The companion entry of a value written now with `ttl`: its age and computation time, and with
 * fail-safe a copy of its bytes that outlives it by `maxStaleSeconds`.
 */
const companion = (recipe: Recipe, ttl: number, bytes: Uint8Array, computeMs: number): { readonly bytes: Uint8Array; readonly ttlSeconds: number } => {
  const stale = recipe.failSafe
  const meta: EntryMeta = { writtenAt: recipe.clock.now(), ttlSeconds: ttl, computeMs, bytes: stale === undefined ? undefined : bytes }
  return { bytes: encodeMeta(meta), ttlSeconds: stale === undefined ? ttl : ttl + stale.maxStaleSeconds }
}

/** A companion entry that could not be written is counted; the value's own write stands. */
const metaWritten = (recipe: Recipe, key: string, stored: E.Either<CacheError, void>): void => {
  if (E.isLeft(stored)) recipe.metrics.recordError(metaKey(key), CE.withKey(metaKey(key))(stored.left), recipe.context)
}

/** Keeps a value just read or written in the in-process tier, if there is one. */
const fillL1 = (recipe: Recipe, key: string, value: unknown, sizeBytes: number, ticket: number): void => {
  const ttl = ttlFor(recipe, value)
  if (typeof ttl === 'number') recipe.l1?.fill(key, value, sizeBytes, ttl, ticket)
}

/** Decodes stored bytes and, when the recipe has a decoder, validates them. */
const read = (recipe: Recipe, bytes: Uint8Array): E.Either<CacheError, unknown> => {
  const value = recipe.serializer.tryDeserialize(bytes)
  return recipe.decode === undefined || E.isLeft(value) ? value : recipe.decode(value.right)
}

/**
 * A cache failure on the way: counted and traced; then it is the result (a strict recipe, returned
 * here), or it is reported and the caller recovers (undefined).
 */
const cacheFailure = (
  recipe: Recipe,
  key: string | undefined,
  error: CacheError,
  call: CallSpan | undefined,
): E.Left<CacheError> | undefined => {
  const located = key === undefined ? error : CE.withKey(key)(error)
  recipe.metrics.recordError(key, located, recipe.context)
  call?.cacheFailure(located)
  if (recipe.onCacheError === undefined) {
    call?.result('error', located)
    return { _tag: 'Left', left: located }
  }
  recipe.onCacheError(key, located)
  call?.result('fallback')
  return undefined
}

/** Runs the function, inside its own span when the call is traced; notes its failure. */
const computeTraced = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined): Outcome | Promise<Outcome> => {
  if (call === undefined) return compute(recipe, self, args)
  return call
    .compute(() => Promise.resolve(compute(recipe, self, args)))
    .then((fresh) => {
      if (E.isLeft(fresh)) call.result('error', fresh.left)
      return fresh
    })
}

/** The whole flow for one key: read; on a miss (or an unreadable entry), compute and write. */
const lookupOrCompute = async (
  recipe: Recipe,
  key: string,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  ticket: number,
): Promise<Outcome> => {
  const span = call?.store('get')
  const started = recipe.timed ? performance.now() : 0
  // Refresh ahead needs the entry's age: its companion entry is read alongside (it never rejects).
  const metaRead = recipe.refreshAhead === undefined ? undefined : recipe.store.get(metaKey(key))()
  const found = await recipe.store.get(key)()
  if (span !== undefined) endStoreSpan(span, E.isLeft(found) ? found.left : undefined)
  // A store that answered with bytes it could not decode, or with more than a value may be, has a
  // bad entry, not a problem of its own: counted, recomputed and overwritten.
  const unreadable = E.isLeft(found) && (found.left._tag === 'SerializationError' || found.left._tag === 'ValueTooLarge') ? found.left : undefined
  if (E.isLeft(found) && unreadable === undefined) {
    // The store is in trouble: run uncached, and do not add a write to its load.
    return cacheFailure(recipe, key, found.left, call) ?? computeTraced(recipe, self, args, call)
  }
  const cached = E.isRight(found) && O.isSome(found.right) ? read(recipe, found.right.value) : undefined
  if (cached !== undefined && E.isRight(cached)) {
    if (recipe.timed) recipe.metrics.recordHit(key, performance.now() - started, recipe.context)
    call?.result('hit')
    if (recipe.l1 !== undefined && E.isRight(found) && O.isSome(found.right)) fillL1(recipe, key, cached.right, found.right.value.byteLength, ticket)
    if (metaRead !== undefined) void metaRead.then((meta) => refreshIfDue(recipe, key, self, args, call, meta))
    return cached
  }
  const bad = unreadable ?? (cached !== undefined && E.isLeft(cached) ? cached.left : undefined)
  if (bad !== undefined) {
    // Unreadable or of an old shape: counted, then recomputed and overwritten below.
    const strict = cacheFailure(recipe, key, bad, call)
    if (strict !== undefined) return strict
  } else {
    if (recipe.timed) recipe.metrics.recordMiss(key, performance.now() - started, recipe.context)
    call?.result('miss')
  }
  return onMiss(recipe, key, self, args, call, ticket)
}

/**
 * A miss. With fail-safe or timeouts, guarded (see `guardedMiss`); with a refresh of the key already
 * under way, that refresh's value; else computed (`miss`).
 */
const onMiss = (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined, ticket: number): Outcome | Promise<Outcome> => {
  if (recipe.failSafe !== undefined || recipe.timeouts !== undefined) return guardedMiss(recipe, key, self, args, call, ticket)
  return recipe.refreshAhead === undefined ? miss(recipe, key, self, args, call, ticket) : joinOrMiss(recipe, key, self, args, call, ticket)
}

/** The background work of `key` if there is some (computed here after all if it made no value), else `miss`. */
const joinOrMiss = (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined, ticket: number): Outcome | Promise<Outcome> => {
  const running = recipe.background.get(key)
  return running === undefined ? miss(recipe, key, self, args, call, ticket) : running.then((landed) => landed ?? miss(recipe, key, self, args, call, ticket))
}

/** With a lease, one replica computes and the others wait for its value; else compute here. */
const miss = (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined, ticket: number): Outcome | Promise<Outcome> =>
  recipe.lease === undefined ? computeAndWrite(recipe, key, self, args, call, ticket) : missWithLease(recipe, recipe.lease, key, self, args, call, ticket)

/**
 * A miss with fail-safe or timeouts. A key whose function rests (a failure was served stale less
 * than `throttleSeconds` ago) gets the stale value at once. Otherwise the computation (or the one
 * already going on in the background for the key) is waited for within the timeouts: past `softMs`
 * a stale value is served if there is one, past `hardMs` a stale value or a `FunctionTimeout`, and
 * the computation goes on in the background. A failure or a timeout then gets the stale value when
 * fail-safe has one, and the function rests.
 */
const guardedMiss = async (
  recipe: Recipe,
  key: string,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  ticket: number,
): Promise<Outcome> => {
  const { failSafe, timeouts } = recipe
  const resting = failSafe?.throttled(key, recipe.clock.now())
  if (resting !== undefined) return servedStale(recipe, key, resting.value, call)
  // A soft timeout must know at once whether a stale value exists: it is read during the computation.
  const staleRead = failSafe !== undefined && timeouts?.softMs !== undefined ? loadStale(recipe, failSafe, key) : undefined
  const work = joinOrMiss(recipe, key, self, args, call, ticket)
  const outcome = timeouts === undefined || !isThenable(work) ? await work : await withinTimeouts(recipe, key, work, timeouts, staleRead)
  if (outcome._tag === 'Stale') return servedStale(recipe, key, outcome.value, call)
  if (E.isRight(outcome) || failSafe === undefined) return outcome
  const stale = await (staleRead ?? loadStale(recipe, failSafe, key))
  if (stale === undefined) return outcome
  failSafe.throttle(key, stale.value, recipe.clock.now())
  return servedStale(recipe, key, stale.value, call)
}

/**
 * Waits for `work` within the timeouts: its outcome; or, past `softMs`, the stale value if
 * `staleRead` finds one; or, past `hardMs`, a `FunctionTimeout`. Work its caller stopped waiting for
 * goes on in the background, one per key, until it lands.
 */
const withinTimeouts = (
  recipe: Recipe,
  key: string,
  work: Promise<Outcome>,
  timeouts: TimeoutsOptions,
  staleRead: Promise<{ readonly value: unknown } | undefined> | undefined,
): Promise<Outcome | StaleAnswer> =>
  new Promise((resolve) => {
    let soft: NodeJS.Timeout | undefined
    let hard: NodeJS.Timeout | undefined
    let answered = false
    const answer = (outcome: Outcome | StaleAnswer, landed: boolean): void => {
      if (answered) return
      answered = true
      clearTimeout(soft)
      clearTimeout(hard)
      // Its callers stop waiting: the computation goes on in the background (once per key).
      if (!landed && recipe.background.get(key) !== work) background(recipe, key, work)
      resolve(outcome)
    }
    void work.then((outcome) => answer(outcome, true))
    const { softMs, hardMs } = timeouts
    if (softMs !== undefined && staleRead !== undefined) {
      soft = setTimeout(() => {
        void staleRead.then((stale) => {
          if (stale !== undefined) answer({ _tag: 'Stale', value: stale.value }, false)
        })
      }, softMs)
    }
    if (hardMs !== undefined) hard = setTimeout(() => answer(E.left(CE.functionTimeout(hardMs, key)), false), hardMs)
  })

/** Keeps `work` as the background work of `key` until it lands (counted in `pending()`). */
const background = (recipe: Recipe, key: string, work: Promise<Outcome | undefined>): void => {
  recipe.background.set(key, work)
  void work.then(() => {
    if (recipe.background.get(key) === work) recipe.background.delete(key)
  })
}

/** A stale value served: counted and traced. */
const servedStale = (recipe: Recipe, key: string, value: unknown, call: CallSpan | undefined): Outcome => {
  recipe.metrics.recordStale?.(key, recipe.context)
  call?.result('stale')
  return E.right(value)
}

/**
 * The stale copy of `key`'s value in its companion entry, if it expired at most `maxStaleSeconds`
 * ago and still decodes. A store that cannot answer now has no stale value to give (counted).
 */
const loadStale = async (recipe: Recipe, failSafe: FailSafe, key: string): Promise<{ readonly value: unknown } | undefined> => {
  const found = await recipe.store.get(metaKey(key))()
  if (E.isLeft(found)) {
    recipe.metrics.recordError(metaKey(key), CE.withKey(metaKey(key))(found.left), recipe.context)
    return undefined
  }
  const meta = O.isSome(found.right) ? decodeMeta(found.right.value) : undefined
  if (meta?.bytes === undefined || recipe.clock.now() > expiresAt(meta) + failSafe.maxStaleSeconds * 1000) return undefined
  const value = read(recipe, meta.bytes)
  return E.isRight(value) ? { value: value.right } : undefined
}

/**
 * After a hit: starts a refresh of `key` in the background when its companion entry (`found`) says
 * it is due, unless one is under way. Never waits, never fails.
 */
const refreshIfDue = (
  recipe: Recipe,
  key: string,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  found: E.Either<CacheError, O.Option<Uint8Array>>,
): void => {
  const rule = recipe.refreshAhead
  if (rule === undefined || E.isLeft(found) || O.isNone(found.right) || recipe.background.has(key)) return
  const meta = decodeMeta(found.right.value)
  if (meta === undefined || !rule.due(meta, recipe.clock.now())) return
  background(recipe, key, refresh(recipe, key, self, args, call))
}

/**
 * A refresh ahead: computes and writes `key` again, in a span of its own linked to the call that
 * started it. With a lease, only the replica that takes it refreshes; the others leave it.
 */
const refresh = async (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, origin: CallSpan | undefined): Promise<Outcome | undefined> => {
  const span = recipe.tracer === undefined ? undefined : startCall(recipe.tracer, recipe.context, origin)
  const ticket = recipe.l1?.ticket() ?? 0
  try {
    const lease = recipe.lease
    if (lease === undefined || !(await lease.supported())) return await computeAndWrite(recipe, key, self, args, span, ticket)
    const acquired = await lease.acquire(key)()
    if (E.isLeft(acquired) || !acquired.right) return undefined // another replica refreshes it, or the store cannot say
    const acquiredAt = Date.now()
    try {
      return await computeAndWrite(recipe, key, self, args, span, ticket)
    } finally {
      await lease.release(key, acquiredAt)
    }
  } finally {
    span?.end()
  }
}

/**
 * Reads the value once more, for a call that already missed: a value another replica wrote is served
 * (and kept in the tier) but not counted again; the call was counted as the miss it was.
 */
const readAgain = async (recipe: Recipe, key: string, ticket: number): Promise<Outcome | undefined> => {
  const found = await recipe.store.get(key)()
  if (E.isLeft(found) || O.isNone(found.right)) return undefined
  const cached = read(recipe, found.right.value)
  if (E.isLeft(cached)) return undefined
  fillL1(recipe, key, cached.right, found.right.value.byteLength, ticket)
  return cached
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A miss under a lease (once per key per process: the single flight's leader runs it). Take the
 * lease and compute, or wait for the holder's value, trying the lease again on each round (a holder
 * that died is replaced when its lease expires), and compute here after `maxWaitMs`.
 */
const missWithLease = async (
  recipe: Recipe,
  lease: Lease,
  key: string,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  ticket: number,
): Promise<Outcome> => {
  if (!(await lease.supported())) return computeAndWrite(recipe, key, self, args, call, ticket)
  const startedAt = Date.now()
  const delay = lease.delays()
  for (;;) {
    const acquired = await lease.acquire(key)()
    if (E.isLeft(acquired)) {
      // The store cannot take the lease now: the call runs as it would without one.
      return cacheFailure(recipe, key, acquired.left, call) ?? computeAndWrite(recipe, key, self, args, call, ticket)
    }
    if (acquired.right) {
      const acquiredAt = Date.now()
      try {
        // Someone may have written the value between our miss and our lease.
        return (await readAgain(recipe, key, ticket)) ?? (await computeAndWrite(recipe, key, self, args, call, ticket))
      } finally {
        await lease.release(key, acquiredAt)
      }
    }
    const waited = Date.now() - startedAt
    if (waited >= lease.maxWaitMs) return computeAndWrite(recipe, key, self, args, call, ticket)
    await sleep(Math.min(delay(), lease.maxWaitMs - waited))
    const found = await readAgain(recipe, key, ticket)
    if (found !== undefined) return found
  }
}

/**
 * On a miss: compute, and store the fresh value unless an invalidation came in the meantime. A
 * synchronous function over a store that writes synchronously, without a lease, is done in this tick.
 */
const computeAndWrite = (
  recipe: Recipe,
  key: string,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  ticket: number,
): Outcome | Promise<Outcome> => {
  const fenceTicket = recipe.fence.begin()
  if (recipe.lease !== undefined) return settle(recipe, key, undefined, 0, self, args, call, ticket, fenceTicket)
  // How long the computation takes goes into the companion entry (refresh ahead's XFetch uses it).
  const startedAt = recipe.keepsMeta ? performance.now() : 0
  const computed = computeTraced(recipe, self, args, call)
  if (isThenable(computed)) return settle(recipe, key, computed, startedAt, self, args, call, ticket, fenceTicket)
  if (E.isLeft(computed) || !recipe.fence.mayWrite(key, fenceTicket)) {
    recipe.fence.end()
    return computed
  }
  const written = write(recipe, key, computed.right, call, recipe.keepsMeta ? performance.now() - startedAt : 0)
  if (isThenable(written)) return settle(recipe, key, computed, startedAt, self, args, call, ticket, fenceTicket, written)
  // Written in this tick: no invalidation can have come in between.
  recipe.fence.end()
  return kept(recipe, key, computed, written, call, ticket)
}

/** The value is written (or the write failed): the tier keeps what a later read would get. */
const kept = (recipe: Recipe, key: string, fresh: E.Right<unknown>, written: Written, call: CallSpan | undefined, ticket: number): Outcome => {
  if (E.isLeft(written)) return cacheFailure(recipe, key, written.left, call) ?? fresh
  if (recipe.l1 !== undefined) {
    // The written bytes, read back once.
    const stored = read(recipe, written.right)
    if (E.isRight(stored)) fillL1(recipe, key, stored.right, written.right.byteLength, ticket)
  }
  return fresh
}

/**
 * The asynchronous rest of `computeAndWrite`, from wherever it had to wait: the generation before
 * the computation (with a lease), the computation (`computing`, begun at `startedAt`, or begun
 * here), the write, and the check that no invalidation came meanwhile, here or in another replica.
 * Ends the computation's fence.
 */
const settle = async (
  recipe: Recipe,
  key: string,
  computing: Outcome | Promise<Outcome> | undefined,
  startedAt: number,
  self: unknown,
  args: ReadonlyArray<unknown>,
  call: CallSpan | undefined,
  ticket: number,
  fenceTicket: number,
  writing?: Promise<Written>,
): Promise<Outcome> => {
  try {
    // Across replicas: the generation before the computation, compared with the one after the write.
    const before = recipe.lease === undefined ? undefined : await recipe.lease.generation(key)
    const began = computing === undefined && recipe.keepsMeta ? performance.now() : startedAt
    const fresh = await (computing ?? computeTraced(recipe, self, args, call))
    if (E.isLeft(fresh)) return fresh
    if (!recipe.fence.mayWrite(key, fenceTicket)) return fresh // invalidated while computing: not stored
    const written = await (writing ?? write(recipe, key, fresh.right, call, recipe.keepsMeta ? performance.now() - began : 0))
    // An invalidation that arrived while the write was on its way must still win, here or elsewhere.
    if (E.isRight(written) && (!recipe.fence.mayWrite(key, fenceTicket) || !(await sameGeneration(recipe, key, before)))) {
      await drop(recipe, key)
      return fresh
    }
    return kept(recipe, key, fresh, written, call, ticket)
  } finally {
    recipe.fence.end()
  }
}

/** Deletes the value of `key` and its companion entry. */
const drop = async (recipe: Recipe, key: string): Promise<E.Either<CacheError, void>> => {
  const [value, meta] = await Promise.all([recipe.store.delete(key)(), recipe.keepsMeta ? recipe.store.delete(metaKey(key))() : undefined])
  return E.isLeft(value) || meta === undefined ? value : meta
}

/** Whether no replica invalidated `key` since `before` was read (an unreadable generation counts as a change). */
const sameGeneration = async (recipe: Recipe, key: string, before: E.Either<CacheError, string | undefined> | undefined): Promise<boolean> => {
  if (recipe.lease === undefined || before === undefined) return true // no lease: nothing to compare
  const after = await recipe.lease.generation(key)
  return E.isRight(before) && E.isRight(after) && before.right === after.right
}

/**
 * A hit served at once by a store that can read synchronously (the memory store): no promise until
 * the result's own. A miss gives the time its read took, so that the computation that follows in the
 * same tick need not read again (and the miss is counted only by a call that does not join a flight). A failure or a value that does not decode returns undefined and
 * takes the ordinary path, which reads again.
 */
const hitNow = (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, ticket: number): Outcome | number | undefined => {
  const readNow = recipe.store.readNow
  if (readNow === undefined) return undefined
  const started = recipe.timed ? performance.now() : 0
  const found = readNow(key)
  if (E.isLeft(found)) return undefined
  if (O.isNone(found.right)) return recipe.timed ? performance.now() - started : 0
  const cached = read(recipe, found.right.value)
  if (E.isLeft(cached)) return undefined
  if (recipe.timed) recipe.metrics.recordHit(key, performance.now() - started, recipe.context)
  if (recipe.l1 !== undefined) fillL1(recipe, key, cached.right, found.right.value.byteLength, ticket)
  if (recipe.refreshAhead !== undefined) refreshIfDue(recipe, key, self, args, undefined, readNow(metaKey(key)))
  return cached
}

const lookup = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined): Outcome | Promise<Outcome> => {
  const key = recipe.key(args)
  if (E.isLeft(key)) {
    return cacheFailure(recipe, undefined, key.left, call) ?? computeTraced(recipe, self, args, call)
  }
  const l1 = recipe.l1
  let ticket = 0
  if (l1 !== undefined) {
    // The in-process tier first: a hit there does no I/O and no decoding.
    const started = recipe.timed ? performance.now() : 0
    const served = l1.get(key.right)
    if (served !== undefined) {
      if (recipe.timed) recipe.metrics.recordHit(key.right, performance.now() - started, recipe.l1Context)
      call?.tier('l1')
      call?.result('hit')
      return E.right(served.value)
    }
    ticket = l1.ticket()
  }
  const dedup = recipe.dedup
  const onJoin =
    call !== undefined
      ? (joined: string) => {
          call.result('coalesced')
          recipe.metrics.recordCoalesced?.(joined, recipe.context)
        }
      : recipe.coalesced
  // A call whose key is in flight joins it before anything else: no read, no work of its own.
  const joined = dedup?.join<Outcome>(key.right, onJoin)
  if (joined !== undefined) return joined
  let absentAfterMs: number | undefined
  if (call === undefined) {
    const hit = hitNow(recipe, key.right, self, args, ticket)
    if (typeof hit === 'number') absentAfterMs = hit
    else if (hit !== undefined) return hit
  }
  call?.key(key.right)
  const work =
    absentAfterMs === undefined
      ? () => lookupOrCompute(recipe, key.right, self, args, call, ticket)
      : () => {
          // The synchronous read found nothing, in this same tick: a miss, and no second read.
          if (recipe.timed) recipe.metrics.recordMiss(key.right, absentAfterMs, recipe.context)
          return onMiss(recipe, key.right, self, args, call, ticket)
        }
  // A leader starts in this same tick, so a miss just read synchronously still holds for it.
  return dedup === undefined ? work() : dedup.run(key.right, work, onJoin)
}

/**
 * One cached call: its outcome at once when nothing had to wait (a hit in the tier or in an
 * in-process store, a synchronous miss there), else a promise of it. Never throws, never rejects.
 */
export const runNow = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>): Outcome | Promise<Outcome> => {
  if (recipe.tracer === undefined) return lookup(recipe, self, args, undefined)
  const call = startCall(recipe.tracer, recipe.context)
  return Promise.resolve(lookup(recipe, self, args, call)).finally(call.end)
}

/** One cached call, as a promise. Never rejects. */
export const run = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>): Promise<Outcome> => Promise.resolve(runNow(recipe, self, args))

/** Drops the entry for these arguments. Failures are counted and returned, never recovered from. */
export const invalidate = async (recipe: Recipe, args: ReadonlyArray<unknown>): Promise<E.Either<CacheError, void>> => {
  const key = recipe.key(args)
  if (E.isLeft(key)) {
    recipe.metrics.recordError(undefined, key.left, recipe.context)
    return key
  }
  recipe.l1?.invalidate(key.right)
  recipe.fence.invalidate(key.right)
  recipe.dedup?.forget(key.right)
  // Later misses neither join work that began before now nor get a stale value from before it.
  recipe.background.delete(key.right)
  recipe.failSafe?.forget(key.right)
  // Across replicas: a new generation first, so a computation under way elsewhere drops its write.
  const bumped = recipe.lease === undefined ? E.right(undefined) : await recipe.lease.bump(key.right, ttlOr(recipe))()
  const deleted = E.isLeft(bumped) ? bumped : await drop(recipe, key.right)
  if (E.isLeft(deleted)) {
    const located = CE.withKey(key.right)(deleted.left)
    recipe.metrics.recordError(key.right, located, recipe.context)
    return E.left(located)
  }
  return deleted
}
