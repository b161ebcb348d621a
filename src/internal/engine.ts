/**
 * The one engine behind both faces: what a cached call does, given a finished recipe, in the order
 * it does it. This is the file where that order is written; the parts live beside it (`recipe.ts`,
 * `compute.ts`, `invalidate.ts`, `reads.ts`, `landing.ts`,
 * `write.ts`, `stale.ts`) and in the modules of each capability (the tier, the lease, fail-safe,
 * timeouts, refresh ahead, jitter).
 *
 * The data flow is fixed (key, the in-process tier, the single-flight gate, read, decode, validate;
 * on a miss, compute, serialize, write); the recipe only supplies its parts. It is written with plain
 * functions and as few promises as it can rather than as a chain of `TaskEither` steps because it is
 * the hot path: a call that needs to wait for nothing (a hit in the tier or in an in-process store, a
 * miss of a synchronous function there) makes no promise until its result's own. Its contract is
 * still `TaskEither`'s: it never rejects, every failure is a `Left`.
 *
 * Cache failures go to the metrics and then either become the result (strict recipe) or are reported
 * and recovered from by running the function uncached (`onCacheError` set, see `orElseUncached`).
 * The function's own failure is returned as is and never written; fail-safe may stand in for it
 * with a stale value.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { CacheError } from '../CacheError.js'
import type { EntryMeta } from './meta.js'
import { decodeMeta, expiresAt, metaKey } from './meta.js'
import type { Lease } from './parts.js'
import type { Lookup, Outcome, Recipe } from './recipe.js'
import { background, cacheFailure, fillL1, missOf, read } from './recipe.js'
import { loadStale, servedStale, withinTimeouts } from './stale.js'
import { computeTraced } from './compute.js'
import { isThenable } from './thenable.js'
import type { CallSpan } from './tracing.js'
import { endStoreSpan, startCall } from './tracing.js'
import type { Written } from './write.js'
import type { Generation } from './landing.js'
import { kept, sameGeneration, track } from './landing.js'
import { indexed, stillIndexed } from './tags.js'
import type { Read } from './reads.js'
import { readAgain, readWithMeta } from './reads.js'
import { drop, write } from './write.js'
import type { Batch } from './batch.js'

export type { Keys, Recipe } from './recipe.js'

// -------------------------------------------------------------------------------------
// a call
// -------------------------------------------------------------------------------------

/**
 * One cached call: its outcome at once when nothing had to wait (a hit in the tier or in an
 * in-process store, a synchronous miss there), else a promise of it. Never throws, never rejects.
 */
export const runNow = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, batch?: Batch): Outcome | Promise<Outcome> => {
  if (recipe.tracer === undefined) return lookup(recipe, self, args, undefined, batch)
  const call = startCall(recipe.tracer, recipe.context)
  return Promise.resolve(lookup(recipe, self, args, call, batch)).finally(call.end)
}

/** One cached call, as a promise. Never rejects. */
export const run = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, batch?: Batch): Promise<Outcome> => Promise.resolve(runNow(recipe, self, args, batch))

/** The key, the tier, the single flight, a synchronous read; then the store, once per key in flight. */
const lookup = (recipe: Recipe, self: unknown, args: ReadonlyArray<unknown>, call: CallSpan | undefined, batch: Batch | undefined): Outcome | Promise<Outcome> => {
  const key = recipe.keys.keyOf(args)
  if (E.isLeft(key)) {
    return cacheFailure(recipe, undefined, key.left, call) ?? computeTraced(recipe, undefined, self, args, call)
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
  const at: Lookup = { recipe, key: key.right, self, args, call, ticket, batch }
  let work: Outcome | Promise<Outcome>
  if (absentAfterMs === undefined) work = lookupOrCompute(at)
  else {
    // The synchronous read found nothing, in this same tick: a miss, and no second read.
    work = onCountedMiss(missOf(at, absentAfterMs))
  }
  // The work began in this same tick as the join above found nothing: it leads the key's flight,
  // which stays open until the work's write has landed, even when its callers were answered before.
  if (batch !== undefined && isThenable(work)) batch.track(work)
  if (dedup === undefined || !isThenable(work)) return work
  const flightKey = key.right
  return dedup.hold(flightKey, work, recipe.backgroundWrites && call === undefined ? () => recipe.landings.get(flightKey) : undefined)
}

/**
 * A hit served at once by a store that can read synchronously (the memory store): no promise until
 * the result's own. A miss gives the time its read took, so that the computation that follows in
 * the same tick need not read again (and the miss is counted only by a call that does not join a
 * flight). A failure or a value that does not decode returns undefined and takes the ordinary path,
 * which reads again.
 */
const hitNow = (recipe: Recipe, key: string, self: unknown, args: ReadonlyArray<unknown>, ticket: number): Outcome | number | undefined => {
  const reads = recipe.reads
  if (reads === undefined) return undefined
  const started = recipe.timed ? performance.now() : 0
  const found = reads.readNow(key)
  if (E.isLeft(found)) return undefined
  if (O.isNone(found.right)) return recipe.timed ? performance.now() - started : 0
  const cached = read(recipe, found.right.value)
  if (E.isLeft(cached)) return undefined
  if (recipe.timed) recipe.metrics.recordHit(key, performance.now() - started, recipe.context)
  if (recipe.l1 !== undefined) fillL1(recipe, key, cached.right, found.right.value.byteLength, ticket)
  if (recipe.refreshAhead !== undefined) refreshIfDue({ recipe, key, self, args, call: undefined, ticket }, reads.readNow(metaKey(key)))
  return cached
}

/** The whole flow for one key: read; on a miss (or an unreadable entry), compute and write. */
const lookupOrCompute = async (at: Lookup): Promise<Outcome> => {
  const { recipe, key, call } = at
  const span = call?.store('get')
  const started = recipe.timed ? performance.now() : 0
  // Refresh ahead needs the entry's age: its companion entry is read with it.
  let found: Read
  let metaRead: Promise<Read> | undefined
  if (recipe.refreshAhead === undefined) found = await (at.batch?.read(key) ?? recipe.store.get(key)())
  else [found, metaRead] = await readWithMeta(recipe, key, at.batch)
  if (span !== undefined) endStoreSpan(span, E.isLeft(found) ? found.left : undefined)
  // A store that answered with bytes it could not decode, or with more than a value may be, has a
  // bad entry, not a problem of its own: counted, recomputed and overwritten.
  const unreadable = E.isLeft(found) && (found.left._tag === 'SerializationError' || found.left._tag === 'ValueTooLarge') ? found.left : undefined
  if (E.isLeft(found) && unreadable === undefined) {
    // The store is in trouble: run uncached, and do not add a write to its load.
    return cacheFailure(recipe, key, found.left, call) ?? computeTraced(recipe, key, at.self, at.args, call)
  }
  const cached = E.isRight(found) && O.isSome(found.right) ? read(recipe, found.right.value) : undefined
  if (cached !== undefined && E.isRight(cached)) {
    if (recipe.timed) recipe.metrics.recordHit(key, performance.now() - started, recipe.context)
    call?.result('hit')
    if (recipe.l1 !== undefined && E.isRight(found) && O.isSome(found.right)) fillL1(recipe, key, cached.right, found.right.value.byteLength, at.ticket)
    if (metaRead !== undefined) void metaRead.then((meta) => refreshIfDue(at, meta))
    return cached
  }
  const bad = unreadable ?? (cached !== undefined && E.isLeft(cached) ? cached.left : undefined)
  if (bad !== undefined) {
    // Unreadable or of an old shape: counted, then recomputed and overwritten below.
    const strict = cacheFailure(recipe, key, bad, call)
    if (strict !== undefined) return strict
    return onMiss(at)
  }
  call?.result('miss')
  return onCountedMiss(missOf(at, recipe.timed ? performance.now() - started : 0))
}

// -------------------------------------------------------------------------------------
// a miss
// -------------------------------------------------------------------------------------



/** A miss (see `onMiss`) whose count may wait for the computation: counted by the time it is done. */
const onCountedMiss = (at: Lookup): Outcome | Promise<Outcome> => {
  const pending = at.miss
  if (pending === undefined) return onMiss(at)
  const work = onMiss(at)
  if (!isThenable(work)) {
    pending.record()
    return work
  }
  return work.then(
    (outcome) => {
      pending.record()
      return outcome
    },
    (failure: unknown) => {
      pending.record()
      throw failure
    },
  )
}

/**
 * A miss. With fail-safe or timeouts, guarded (see `guardedMiss`); with a refresh of the key already
 * under way, that refresh's value; else computed (`miss`).
 */
const onMiss = (at: Lookup): Outcome | Promise<Outcome> => {
  const { recipe } = at
  if (recipe.failSafe !== undefined || recipe.timeouts !== undefined) return guardedMiss(at)
  return recipe.refreshAhead === undefined ? miss(at) : joinOrMiss(at)
}

/** The background work of the key if there is some (computed here after all if it made no value), else `miss`. */
const joinOrMiss = (at: Lookup): Outcome | Promise<Outcome> => {
  const running = at.recipe.background.get(at.key)
  return running === undefined ? miss(at) : running.then((landed) => landed ?? miss(at), () => miss(at))
}

/** With a lease, one replica computes and the others wait for its value; else compute here. */
const miss = (at: Lookup): Outcome | Promise<Outcome> => (at.recipe.lease === undefined ? computeAndWrite(at) : missWithLease(at, at.recipe.lease))

/**
 * A miss with fail-safe or timeouts. A key whose function rests (a failure was served stale less
 * than `throttleSeconds` ago) gets the stale value at once. Otherwise the computation (or the one
 * already going on in the background for the key) is waited for within the timeouts: past `softMs`
 * a stale value is served if there is one, past `hardMs` a stale value or a `FunctionTimeout`, and
 * the computation goes on in the background. A failure or a timeout then gets the stale value when
 * fail-safe has one, and the function rests.
 */
const guardedMiss = async (at: Lookup): Promise<Outcome> => {
  const { recipe, key, call } = at
  const { failSafe, timeouts } = recipe
  const resting = failSafe?.throttled(key, recipe.clock.now())
  if (resting !== undefined) return servedStale(recipe, key, resting.value, call)
  // A soft timeout must know at once whether a stale value exists: it is read during the computation.
  const staleRead = failSafe !== undefined && timeouts?.softMs !== undefined ? loadStale(recipe, failSafe, key) : undefined
  const work = joinOrMiss(at)
  const outcome = timeouts === undefined || !isThenable(work) ? await work : await withinTimeouts(recipe, key, work, timeouts, staleRead)
  if (outcome._tag === 'Stale') return servedStale(recipe, key, outcome.value, call)
  if (E.isRight(outcome) || failSafe === undefined) return outcome
  const stale = await (staleRead ?? loadStale(recipe, failSafe, key))
  if (stale === undefined) return outcome
  failSafe.throttle(key, stale.value, recipe.clock.now())
  return servedStale(recipe, key, stale.value, call)
}


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A miss under a lease (once per key per process: the single flight's leader runs it). Take the
 * lease and compute, or wait for the holder's value, trying the lease again on each round (a holder
 * that died is replaced when its lease expires), and compute here after `maxWaitMs`.
 */
const missWithLease = async (at: Lookup, lease: Lease): Promise<Outcome> => {
  if (!(await lease.supported())) return computeAndWrite(at)
  const startedAt = Date.now()
  const delay = lease.delays()
  for (;;) {
    const acquired = await lease.acquire(at.key)()
    if (E.isLeft(acquired)) {
      // The store cannot take the lease now: the call runs as it would without one.
      return cacheFailure(at.recipe, at.key, acquired.left, at.call) ?? computeAndWrite(at)
    }
    if (acquired.right) {
      const acquiredAt = Date.now()
      try {
        // Someone may have written the value between our miss and our lease.
        return (await readAgain(at)) ?? (await computeAndWrite(at))
      } finally {
        await lease.release(at.key, acquiredAt)
      }
    }
    const waited = Date.now() - startedAt
    if (waited >= lease.maxWaitMs) return computeAndWrite(at)
    const waiting = sleep(Math.min(delay(), lease.maxWaitMs - waited))
    await (at.batch === undefined ? waiting : at.batch.parkedWhile(waiting))
    const found = await readAgain(at)
    if (found !== undefined) return found
  }
}

// -------------------------------------------------------------------------------------
// computing and writing
// -------------------------------------------------------------------------------------

/**
 * On a miss: compute, and store the fresh value unless an invalidation came in the meantime. A
 * synchronous function over a store that writes synchronously, without a lease, is done in this tick.
 */
const computeAndWrite = (at: Lookup): Outcome | Promise<Outcome> => {
  const { recipe, key } = at
  const fenceTicket = recipe.fence.begin()
  // The key's generation is read before the computation begins.
  if (recipe.generations !== undefined) return settle(at, fenceTicket)
  // How long the computation takes goes into the companion entry (refresh ahead's XFetch uses it).
  const startedAt = recipe.keepsMeta ? performance.now() : 0
  const computed = computeTraced(recipe, key, at.self, at.args, at.call, fenceTicket, at.miss)
  if (!isThenable(computed)) return store(at, fenceTicket, computed, startedAt)
  // A store that writes synchronously: once the value is there, the rest is done in that same tick.
  if (recipe.writes !== undefined && at.call === undefined) return computed.then((fresh) => store(at, fenceTicket, fresh, startedAt))
  return settle(at, fenceTicket, { computing: computed, startedAt })
}

/**
 * The computation is done: its value is written unless an invalidation came in since the fence
 * ticket was taken. A store that wrote in this tick ends the fence here; else `settle` waits for it.
 */
const store = (at: Lookup, fenceTicket: number, computed: Outcome, startedAt: number): Outcome | Promise<Outcome> => {
  const { recipe, key } = at
  if (E.isLeft(computed) || !recipe.fence.mayWrite(key, fenceTicket)) {
    recipe.fence.end()
    return computed
  }
  let written: Written | Promise<Written>
  try {
    written = write(recipe, key, computed.right, at.call, recipe.keepsMeta ? performance.now() - startedAt : 0, at.batch)
  } catch (failure) {
    // Nothing in a write should throw (a TTL function's throw is a Left now); should anything, the fence is ended all the same.
    recipe.fence.end()
    throw failure
  }
  if (isThenable(written)) return settle(at, fenceTicket, { computing: computed, startedAt, writing: written })
  // Written in this tick: no invalidation can have come in between.
  recipe.fence.end()
  return kept(at, computed, written)
}

/** Where `settle` takes over: the computation already under way (begun at `startedAt`), maybe its write too. */
interface Underway {
  readonly computing: Outcome | Promise<Outcome>
  readonly startedAt: number
  readonly writing?: Promise<Written> | undefined
}

/**
 * The asynchronous rest of `computeAndWrite`, from wherever it had to wait: the generation before
 * the computation (with generations), the computation, the write, and the check that no invalidation
 * came meanwhile, here or in another replica. Ends the computation's fence. With background writes
 * (`Recipe.backgroundWrites`), an untraced call answers once the value is computed and its write has
 * begun: the rest goes on as the key's landing, which its single flight waits for.
 */
const settle = async (at: Lookup, fenceTicket: number, underway?: Underway): Promise<Outcome> => {
  const { recipe, key } = at
  let handedOver = false
  try {
    // Across replicas: the generation before the computation, compared with the one after the write.
    const before = recipe.generations === undefined ? undefined : await recipe.generations.read(key)
    const startedAt = underway?.startedAt ?? (recipe.keepsMeta ? performance.now() : 0)
    const fresh = await (underway?.computing ?? computeTraced(recipe, at.key, at.self, at.args, at.call, fenceTicket, at.miss, before))
    if (E.isLeft(fresh)) return fresh
    if (!recipe.fence.mayWrite(key, fenceTicket)) return fresh // invalidated while computing: not stored
    // With tags, the key joins their indexes before its value is written (never a value unindexed),
    // and after the write it checks it is still in them (see `afterWrite`).
    let lookup = at
    if (recipe.tags !== undefined && underway?.writing === undefined) {
      const tags = await indexed(at, fresh)
      if (!Array.isArray(tags)) return tags as Outcome
      if (tags.length > 0) lookup = { ...at, tags: tags as ReadonlyArray<string> }
    }
    // Invalidated on another replica while computing: not written at all, rather than written and
    // then deleted (which leaves other replicas a round trip to read it).
    if (before !== undefined && underway?.writing === undefined) {
      if ((await sameGeneration(recipe, key, before)) === 'moved') return await computeAgain(at, fresh)
      // That look took a round trip: an invalidation here may have come meanwhile, and found no write to wait for.
      if (!recipe.fence.mayWrite(key, fenceTicket)) return fresh
    }
    const writing = underway?.writing ?? write(recipe, key, fresh.right, at.call, recipe.keepsMeta ? performance.now() - startedAt : 0, at.batch)
    if (!isThenable(writing)) return await orAgain(at, fresh, await afterWrite(lookup, fenceTicket, fresh, writing, before))
    if (recipe.backgroundWrites && at.call === undefined) {
      handedOver = true
      void land(lookup, fenceTicket, fresh, writing, before).then(undefined, ignore)
      return fresh
    }
    // Until the write has landed and, if an invalidation came meanwhile, been deleted, an invalidation
    // of the key waits for it: once that resolves, no write of this process from before it is left.
    // A computation done again for another replica's invalidation is not part of it.
    const landed = await track(recipe, key, writing.then((written) => afterWrite(lookup, fenceTicket, fresh, written, before)))
    return await orAgain(at, fresh, landed)
  } finally {
    if (!handedOver) recipe.fence.end()
  }
}

const ignore = (): void => undefined

/** The work of a computation whose callers already have its value: its write, then what follows it. */
const land = async (at: Lookup, fenceTicket: number, fresh: E.Right<unknown>, writing: Promise<Written>, before: Generation): Promise<void> => {
  let landed: Landed
  try {
    landed = await track(at.recipe, at.key, writing.then((written) => afterWrite(at, fenceTicket, fresh, written, before)))
  } finally {
    at.recipe.fence.end()
  }
  await orAgain(at, fresh, landed)
}

/** What follows a write: its outcome, or AGAIN when another replica's invalidation overtook it. */
const AGAIN = Symbol('again')
type Landed = Outcome | typeof AGAIN

/** The outcome of a write that landed, computing again when another replica's invalidation overtook it. */
const orAgain = (at: Lookup, fresh: E.Right<unknown>, landed: Landed): Outcome | Promise<Outcome> => (landed === AGAIN ? computeAgain(at, fresh) : landed)


/** After the write: an invalidation that arrived while it was on its way must still win, here or elsewhere. */
const afterWrite = async (at: Lookup, fenceTicket: number, fresh: E.Right<unknown>, written: Written, before: Generation): Promise<Landed> => {
  const { recipe, key } = at
  if (E.isLeft(written)) return kept(at, fresh, written)
  if (!recipe.fence.mayWrite(key, fenceTicket)) {
    // Invalidated here: calls made since start their own lookup (the single flight forgot this one).
    await dropped(recipe, key)
    return fresh
  }
  const generation = await sameGeneration(recipe, key, before)
  if (generation !== 'same') {
    await dropped(recipe, key)
    // Invalidated on another replica while this was computed: calls may have joined this flight after
    // that invalidation resolved, so they wait for a computation done again (under the lease when this
    // replica holds it), a bounded number of times: an invalidation per computation would otherwise
    // never end, and after the third its value is answered unstored. Callers answered before the write
    // (background writes) already have this value. A generation that could not be read says nothing.
    return generation === 'moved' ? AGAIN : fresh
  }
  if (at.tags !== undefined) {
    // A tag invalidation that read the index after this key joined it, and emptied it before this
    // write landed, deleted the key too early: the key is gone from the index, and its value goes.
    const indexes = await stillIndexed(recipe, key, at.tags)
    if (indexes !== 'yes') {
      await dropped(recipe, key)
      return indexes === 'no' ? AGAIN : fresh
    }
  }
  return kept(at, fresh, written)
}

/** A write an invalidation overtook is deleted; other replicas' tiers may have read it meanwhile, and are told (no caller waits for that). */
const dropped = async (recipe: Recipe, key: string): Promise<void> => {
  await drop(recipe, key)
  if (recipe.backplane !== undefined) void recipe.backplane.publish('delete', key)
}

/** A computation overtaken by another replica's invalidation, done again; after three, its value is answered unstored. */
const computeAgain = (at: Lookup, fresh: E.Right<unknown>): Outcome | Promise<Outcome> => {
  const overtaken = (at.overtaken ?? 0) + 1
  if (overtaken > MAX_RECOMPUTATIONS) return fresh
  return computeAndWrite({ ...at, overtaken, ticket: at.recipe.l1?.ticket() ?? 0 })
}

/** How many times a computation overtaken by another replica's invalidation is done again. */
const MAX_RECOMPUTATIONS = 3



// -------------------------------------------------------------------------------------
// refresh ahead
// -------------------------------------------------------------------------------------

/**
 * After a hit: starts a refresh of the key in the background when its companion entry (`found`)
 * says it is due, unless one is under way. Never waits, never fails.
 */
const refreshIfDue = (at: Lookup, found: E.Either<CacheError, O.Option<Uint8Array>>): void => {
  const { recipe, key } = at
  const rule = recipe.refreshAhead
  if (rule === undefined || E.isLeft(found) || O.isNone(found.right) || recipe.background.has(key)) return
  const meta = decodeMeta(found.right.value)
  if (meta === undefined || !rule.due(meta, recipe.clock.now())) return
  background(recipe, key, refresh(at, meta))
}

/**
 * A refresh ahead: computes and writes the key again, in a span of its own linked to the call that
 * started it. With a lease, only the replica that takes it refreshes; the others leave it (and the
 * refresh lands with no outcome).
 */
const refresh = async (origin: Lookup, seen: EntryMeta): Promise<Outcome | undefined> => {
  const { recipe } = origin
  const call = recipe.tracer === undefined ? undefined : startCall(recipe.tracer, recipe.context, origin.call)
  // A refresh is no caller's: it reads and writes on its own, outside any batch of the call that began it.
  const at: Lookup = { ...origin, call, ticket: recipe.l1?.ticket() ?? 0, batch: undefined }
  try {
    return await refreshUnder(at, seen)
  } finally {
    call?.end()
  }
}

/**
 * The refresh itself, under the lease when there is one. Another replica may have refreshed the key
 * and given the lease back between this one's hit and its lease: the companion entry then is no
 * longer the one the hit saw, and the key is left alone. So it is when the entry is gone before its
 * value's expiry (invalidated: the next call computes it); gone past it, or unreadable, the key is
 * refreshed.
 */
const refreshUnder = async (at: Lookup, seen: EntryMeta): Promise<Outcome | undefined> => {
  const { recipe, key } = at
  const lease = recipe.lease
  if (lease === undefined || !(await lease.supported())) return computeAndWrite(at)
  const acquired = await lease.acquire(key)()
  if (E.isLeft(acquired) || !acquired.right) return undefined // another replica refreshes it, or the store cannot say
  const acquiredAt = Date.now()
  try {
    const now = await recipe.store.get(metaKey(key))()
    const changed =
      E.isRight(now) && (O.isNone(now.right) ? recipe.clock.now() < expiresAt(seen) : decodeMeta(now.right.value)?.writtenAt !== seen.writtenAt)
    return changed ? undefined : await computeAndWrite(at)
  } finally {
    await lease.release(key, acquiredAt)
  }
}
