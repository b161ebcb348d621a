/**
 * Interleavings of tagged writes and tag invalidations, each forced by holding one store call
 * (found by a review of the first version, where each broke a guarantee of docs/tags.md): after
 * every one, a value in the store is in its tag's index, and an invalidation leaves nothing of the
 * tag behind.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import * as CE from '../src/CacheError.js'
import { cache, cacheable, daprStore, defaultKeyBuilder, invalidateTags, memoryStore, withKey, withTags } from '../src/index.js'
import type { Store } from '../src/index.js'
import { bucketKey, bucketOf } from '../src/internal/tags.js'
import { startTestSidecar } from '../src/testing/index.js'
import { deferred } from './helpers.js'

const quiet = { warn: () => undefined }
const keyOf = (name: string, id: number): string => defaultKeyBuilder().buildKey(name, [id])
const has = async (store: Store, key: string): Promise<boolean> => {
  const found = await store.get(key)()
  return E.isRight(found) && O.isSome(found.right)
}
const indexHolds = async (store: Store, tag: string, key: string): Promise<boolean> => {
  const found = await store.get(bucketKey('cache', tag, bucketOf(key)))()
  return E.isRight(found) && O.isSome(found.right) && Buffer.from(found.right.value).toString().includes(key)
}

/** `inner` seen through asynchronous calls only, with a hook before some of them. */
const held = (inner: Store, hooks: { set?: (key: string) => Promise<void>; getVersioned?: (key: string) => Promise<void>; setIf?: (value: Uint8Array) => Promise<void> } = {}): Store => {
  const { getVersioned, setIf, deleteIf, deleteMany } = inner
  if (getVersioned === undefined || setIf === undefined || deleteIf === undefined || deleteMany === undefined) throw new Error('a versioned store')
  return {
    name: 'held',
    get: (key) => inner.get(key),
    set: (key, value, ttl) => async () => {
      await hooks.set?.(key)
      return inner.set(key, value, ttl)()
    },
    delete: (key) => inner.delete(key),
    deleteMany,
    getVersioned: (key) => async () => {
      await hooks.getVersioned?.(key)
      return getVersioned(key)()
    },
    setIf: (key, value, ttl, etag) => async () => {
      await hooks.setIf?.(value)
      return setIf(key, value, ttl, etag)()
    },
    deleteIf,
  }
}

it('a write whose key joined the index before an invalidation read it, and landed after, does not stay out of the index', async () => {
  const store = memoryStore()
  const key = keyOf('f', 1)
  const bucket = bucketKey('cache', 't', bucketOf(key))
  const atBucket = deferred()
  const releaseInvalidation = deferred()
  const atSet = deferred()
  const releaseWrite = deferred()
  const invalidating = held(store, {
    getVersioned: async (k) => {
      if (k === bucket) {
        atBucket.resolve()
        await releaseInvalidation.promise
      }
    },
  })
  const writing = held(store, {
    set: async (k) => {
      if (k === key) {
        atSet.resolve()
        await releaseWrite.promise
      }
    },
  })
  const f = cacheable({ store: writing, name: 'f', tags: () => ['t'], logger: quiet })(async (id: number) => id)
  const invalidation = invalidateTags(invalidating, 't')() // the epoch is new; held before reading the bucket
  await atBucket.promise
  const call = f(1) // reads the new epoch, joins the index, sends its write (held)
  await atSet.promise
  releaseInvalidation.resolve() // the invalidation empties the bucket and deletes the key (not written yet)
  expect(E.isRight(await invalidation)).toBe(true)
  releaseWrite.resolve() // the write lands: its key is gone from the index, so it deletes it, and computes again
  expect(await call).toBe(1)
  expect(!(await has(store, key)) || (await indexHolds(store, 't', key))).toBe(true)
  await invalidateTags(store, 't')()
  expect(await has(store, key)).toBe(false)
})

it('on Redis, a writer holding an old version of a bucket cannot overwrite a newer one (buckets are emptied, never deleted)', async () => {
  const sidecar = await startTestSidecar({ flavour: 'redis' })
  const store = daprStore({ daprUrl: sidecar.url, env: {} })
  try {
    const target = bucketOf(keyOf('h', 0))
    const ids: Array<number> = []
    for (let id = 0; ids.length < 3; id++) if (bucketOf(keyOf('h', id)) === target) ids.push(id)
    const [x, a, b] = ids as [number, number, number]
    const atSetIf = deferred()
    const releaseA = deferred()
    let gate = false
    const slowA = held(store, {
      setIf: async (value) => {
        if (gate && Buffer.from(value).toString().includes(keyOf('h', a))) {
          gate = false
          atSetIf.resolve()
          await releaseA.promise
        }
      },
    })
    const h = (on: Store) => cacheable({ store: on, name: 'h', tags: () => ['t'], logger: quiet })(async (id: number) => id)
    await h(store)(x)
    gate = true
    const callA = h(slowA)(a) // read the bucket, held before its versioned write
    await atSetIf.promise
    expect(E.isRight(await invalidateTags(store, 't')())).toBe(true)
    await h(store)(b)
    expect(await indexHolds(store, 't', keyOf('h', b))).toBe(true)
    releaseA.resolve()
    await callA
    expect(await indexHolds(store, 't', keyOf('h', b))).toBe(true)
    await invalidateTags(store, 't')()
    expect(await has(store, keyOf('h', b))).toBe(false)
    expect(await has(store, keyOf('h', a))).toBe(false)
  } finally {
    await store.close()
    await sidecar.close()
  }
})

it('invalidateTag resolves only once this function’s own write in flight has landed and been deleted', async () => {
  const store = memoryStore()
  const key = keyOf('g', 1)
  const atSet = deferred()
  const release = deferred()
  const slow = held(store, {
    set: async (k) => {
      if (k === key) {
        atSet.resolve()
        await release.promise
      }
    },
  })
  const g = cacheable({ store: slow, name: 'g', tags: () => ['t'], logger: quiet })(async (id: number) => id)
  const call = g(1)
  await atSet.promise
  let resolved = false
  const invalidation = g.invalidateTag('t').then((result) => {
    resolved = true
    return result
  })
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(resolved).toBe(false)
  release.resolve()
  await invalidation
  expect(await has(store, key)).toBe(false)
  expect(await call).toBe(1)
})

it('one function’s invalidateTag deletes the companion entries of every function under the tag (no stale copy served after)', async () => {
  const store = memoryStore()
  const source = { failing: false }
  const f = cacheable({ store, name: 'fs', tags: () => ['u'], failSafe: true, ttlSeconds: 1, logger: quiet })(async (id: number) => {
    if (source.failing) throw new Error('down')
    return `v${id}`
  })
  const g = cacheable({ store, name: 'plain', tags: () => ['u'], logger: quiet })(async (id: number) => id)
  await f(1)
  await g(1)
  expect((await g.invalidateTag('u')).deleted).toBe(2)
  expect(await has(store, `${keyOf('fs', 1)}:meta`)).toBe(false)
  source.failing = true
  await expect(f(1)).rejects.toThrow('down')
})

it('in a strict pipeline, a tags function that throws fails the call as a failed write does', async () => {
  const store = memoryStore()
  const strict = pipe(
    (id: number) => TE.right(id),
    cache(store),
    withKey('strict'),
    withTags(() => {
      throw new Error('boom')
    }),
  )
  const result = await strict(1)()
  expect(E.isLeft(result) && CE.isCacheError(result.left) && result.left._tag).toBe('KeyError')
  expect(await has(store, keyOf('strict', 1))).toBe(false)
})

it('counts a key under two of the tags invalidated together once per tag', async () => {
  const store = memoryStore()
  const f = cacheable({ store, name: 'two', tags: () => ['p', 'q'], logger: quiet })(async (id: number) => id)
  await f(1)
  expect(await invalidateTags(store, ['p', 'q'])()).toEqual(E.right({ deleted: 2 }))
  expect(await has(store, keyOf('two', 1))).toBe(false)
})
