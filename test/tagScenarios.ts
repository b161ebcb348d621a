/**
 * The tag scenarios, run on the memory store and the test sidecar (test/Tags.test.ts) and on real
 * daprd with both components (test/dapr/tags.test.ts): entries deleted together from the store
 * itself, indexes that lose no key under concurrent writers, a value written while its tag is
 * invalidated never left behind it, bad tags refused.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { InMemoryMetrics, cache, cacheable, defaultKeyBuilder, invalidateTags, withKey, withTags } from '../src/index.js'
import type { Store } from '../src/index.js'
import { epochKey } from '../src/internal/tags.js'
import { deferred } from './helpers.js'

const quiet = { warn: () => undefined }

/** The hash part of the default key of `[id]` for `name`. */
const keyHash = (name: string, id: number): string => defaultKeyBuilder().buildKey(name, [id]).split(':').pop() ?? ''

export const describeTags = (label: string, open: () => Promise<{ readonly store: Store; readonly close: () => Promise<void> }>): void =>
  describe(`tags on ${label}`, () => {
  let store: Store
  let close: () => Promise<void> = async () => undefined
  beforeEach(async () => {
    const opened = await open()
    store = opened.store
    close = opened.close
  })
  afterEach(async () => {
    await close()
  })

  const present = async (key: string): Promise<boolean> => {
    const found = await store.get(key)()
    return E.isRight(found) && O.isSome(found.right)
  }

  it('invalidateTag deletes every entry carrying the tag, of every function, from the store itself', async () => {
    const source = { version: 1 }
    const profile = cacheable({ store, name: 'profile', tags: ([id]: [number]) => [`user:${id}`], logger: quiet })(async (id: number) => ({ id, v: source.version }))
    const orders = cacheable({ store, name: 'orders', tags: ([id]: [number]) => [`user:${id}`, 'orders'], logger: quiet })(async (id: number) => [id, source.version])
    await profile(1)
    await profile(2)
    await orders(1)
    source.version = 2
    const result = await profile.invalidateTag('user:1')
    expect(result.deleted).toBe(2)
    // A reader that knows nothing of tags (the Python library reads the value key) gets a miss.
    expect(await profile(1)).toEqual({ id: 1, v: 2 })
    expect(await orders(1)).toEqual([1, 2])
    // Another user's entry stays.
    expect(await profile(2)).toEqual({ id: 2, v: 1 })
    // The entries read again were indexed again: one more invalidation finds both.
    expect((await profile.invalidateTag('user:1')).deleted).toBe(2)
    expect((await orders.invalidateTag(['orders'])).deleted).toBe(1)
  })

  it('of 200 concurrent writers under one tag, no key is lost from its index', async () => {
    const fn = cacheable({ store, name: 'many', tags: () => ['hot'], logger: quiet })(async (id: number) => id)
    await Promise.all(Array.from({ length: 200 }, (_, id) => fn(id)))
    const metrics = new InMemoryMetrics()
    const result = E.getOrElseW(() => ({ deleted: -1 }))(await invalidateTags(store, 'hot', { metrics: [metrics] })())
    expect(result.deleted).toBe(200)
    expect(metrics.getStats().tagKeysDeleted).toEqual({ hot: 200 })
    const left = await Promise.all(Array.from({ length: 200 }, (_, id) => present(`cache:many:${keyHash('many', id)}`)))
    expect(left.filter(Boolean)).toHaveLength(0)
  })

  it('many of 2,000 keys under one tag: every value stored and indexed, the index written a few times per bucket, not once per key', async () => {
    let indexWrites = 0
    const setIf = store.setIf
    if (setIf === undefined) throw new Error(`${label}: no setIf`)
    const counted: Store = { ...store, setIf: (...args) => (indexWrites++, setIf(...args)) }
    const metrics = new InMemoryMetrics()
    const fn = cacheable({ store: counted, name: 'bulk', tags: () => ['shared'], logger: quiet, metrics })(async (id: number) => id)
    const ids = Array.from({ length: 2000 }, (_, id) => id)
    expect(await fn.many(ids.map((id) => [id] as [number]))).toEqual(ids)
    expect(metrics.getStats().errorsByCode).toEqual({})
    expect(indexWrites).toBeLessThan(640)
    const stored = await Promise.all(ids.map((id) => present(`cache:bulk:${keyHash('bulk', id)}`)))
    expect(stored.filter((found) => !found)).toHaveLength(0)
    const result = E.getOrElseW(() => ({ deleted: -1 }))(await invalidateTags(store, 'shared')())
    expect(result.deleted).toBe(2000)
  }, 60_000)

  it('a value computed while its tag is invalidated is not left in the store behind it', async () => {
    const gate = deferred()
    const started = deferred()
    const source = { version: 1 }
    const fn = cacheable({ store, name: 'slow', tags: () => ['t'], logger: quiet })(async (id: number) => {
      const version = source.version
      started.resolve()
      await gate.promise
      return { id, version }
    })
    const early = fn(1) // reads the source (version 1), then waits
    await started.promise
    source.version = 2
    await fn.invalidateTag('t')
    gate.resolve()
    // The write saw the epoch move: it was deleted, and the computation done again for its caller.
    expect((await early).version).toBe(2)
    expect(await fn(1)).toEqual({ id: 1, version: 2 })
    // Nothing of version 1 is anywhere: a reader that knows nothing of tags reads version 2 too.
    const stored = await store.get(defaultKeyBuilder().buildKey('slow', [1]))()
    expect(E.isRight(stored) && O.isSome(stored.right)).toBe(true)
  })

  it('refuses bad tags with a typed error and writes nothing; a tags function that fails makes the call run uncached', async () => {
    const fn = cacheable({ store, name: 'bad', tags: ([id]: [number]) => (id === 1 ? [''] : id === 2 ? [42 as unknown as string] : ['x'.repeat(1025)]), logger: quiet })(async (id: number) => id)
    await expect(fn.invalidateTag('')).rejects.toMatchObject({ code: 'E_CACHE_KEY' })
    await expect(fn.invalidateTag('x'.repeat(1025))).rejects.toThrow(/1 KiB/)
    await expect(fn.invalidateTag([7 as unknown as string])).rejects.toThrow(/string/)
    expect(await present(epochKey('cache'))).toBe(false)
    for (const id of [1, 2, 3]) {
      expect(await fn(id)).toBe(id)
      expect(await present(`cache:bad:${keyHash('bad', id)}`)).toBe(false)
    }
  })

  it('in a pipeline: withTags infers the arguments and the value', async () => {
    const fn = pipe(
      (id: number) => TE.right({ id, team: 'red' }),
      cache(store),
      withKey('pipe.member'),
      withTags(([id], member) => [`member:${id}`, `team:${member.team}`]),
    )
    expect(await fn(3)()).toEqual(E.right({ id: 3, team: 'red' }))
    const result = await fn.invalidateTag('team:red')()
    expect(result).toEqual(E.right({ deleted: 1 }))
  })
})
