/**
 * Small real parts for tests: a store wrapper that counts and can be held or broken, a deferred,
 * and a metrics sink that keeps every record. Nothing here stubs the code under test.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CacheError } from '../src/CacheError.js'
import * as CE from '../src/CacheError.js'
import type { Logger } from '../src/Logger.js'
import type { CacheMetrics } from '../src/Metrics.js'
import type { Store } from '../src/Store.js'

export interface Deferred<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T) => void
  readonly reject: (reason: unknown) => void
}

export const deferred = <T = void>(): Deferred<T> => {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((ok, ko) => {
    resolve = ok
    reject = ko
  })
  return { promise, resolve, reject }
}

/**
 * A repeatable stand-in for `Math.random` (the mulberry32 generator): uniform numbers in [0, 1)
 * from a 32-bit seed, for tests whose subject draws at random but whose assertions must not.
 */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Waits, a turn of the event loop at a time, until `condition()` holds; fails past 1,000 turns. */
export const until = async (condition: () => boolean): Promise<void> => {
  for (let turn = 0; !condition(); turn++) {
    if (turn === 1000) throw new Error('the condition did not come to hold')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/**
 * Polls `condition` every 10 ms until it holds; fails after `ms`. For what another process, a socket
 * or a timer brings about, where `until`'s turns of the event loop say nothing about time.
 */
export const eventually = async (condition: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition did not come to hold in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export type Operation = 'get' | 'set' | 'delete'

/** A store around another that counts every operation and can fail or hold any of them on demand. */
export interface ProbeStore extends Store {
  readonly counts: Record<Operation, number>
  /** Operations fail with this error while it is set. */
  failWith: Partial<Record<Operation, CacheError>>
  /** Operations wait for this promise while it is set. */
  holdUntil: Partial<Record<Operation, Promise<void>>>
  readonly keys: { readonly set: Array<string>; readonly get: Array<string>; readonly delete: Array<string> }
}

export const probeStore = (inner: Store): ProbeStore => {
  const probe: ProbeStore = {
    name: `probe(${inner.name})`,
    counts: { get: 0, set: 0, delete: 0 },
    failWith: {},
    holdUntil: {},
    keys: { get: [], set: [], delete: [] },
    get: (key) => guarded('get', key, inner.get(key)),
    set: (key, value, ttl) => guarded('set', key, inner.set(key, value, ttl)),
    delete: (key) => guarded('delete', key, inner.delete(key)),
  }
  const guarded =
    <A>(operation: Operation, key: string, task: TE.TaskEither<CacheError, A>): TE.TaskEither<CacheError, A> =>
    async () => {
      probe.counts[operation]++
      probe.keys[operation].push(key)
      const hold = probe.holdUntil[operation]
      if (hold !== undefined) await hold
      const failure = probe.failWith[operation]
      return failure === undefined ? task() : E.left(failure)
    }
  return probe
}

/** A store every operation of which fails. */
export const brokenStore = (error: CacheError = CE.connectionError('connection refused')): Store => ({
  name: 'broken',
  get: () => () => Promise.resolve(E.left(error)),
  set: () => () => Promise.resolve(E.left(error)),
  delete: () => () => Promise.resolve(E.left(error)),
})

export interface Recorded {
  readonly hits: Array<string>
  readonly misses: Array<string>
  readonly writes: Array<[string, number]>
  readonly errors: Array<[string | undefined, CacheError]>
  readonly coalesced: Array<string>
}

export const recordingMetrics = (): CacheMetrics & { readonly recorded: Recorded } => {
  const recorded: Recorded = { hits: [], misses: [], writes: [], errors: [], coalesced: [] }
  return {
    recorded,
    recordHit: (key) => recorded.hits.push(key),
    recordMiss: (key) => recorded.misses.push(key),
    recordWrite: (key, size) => recorded.writes.push([key, size]),
    recordError: (key, error) => recorded.errors.push([key, error]),
    recordCoalesced: (key) => recorded.coalesced.push(key),
  }
}

export const collectingLogger = (): Logger & { readonly lines: Array<string> } => {
  const lines: Array<string> = []
  return { lines, warn: (message: string) => lines.push(message) }
}

/** A value vector of the Python library: the value, the `wire` string it sends, its MessagePack bytes. */
export interface ValueVector {
  readonly value: unknown
  readonly wire: string
  readonly msgpack_hex: string
}

/** A key vector of the Python library: a call's prefix, name and arguments, and the key it builds. */
export interface KeyVector {
  readonly prefix: string
  readonly name: string
  readonly args: ReadonlyArray<unknown>
  readonly key: string
}

/** The interop vectors produced by the Python library (a copy of ../shared/interop, kept in the clone). */
export const pythonVectors = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'python-vectors.json'), 'utf8')) as {
  readonly keys: ReadonlyArray<KeyVector>
  readonly values: ReadonlyArray<ValueVector>
}
