/**
 * Tags: entries deleted together from the store itself (a reader that knows nothing of tags gets a
 * miss), indexes that lose no key under concurrent writers, a value written while its tag is
 * invalidated never left behind, bad tags refused, and progress in metrics. On the memory store and
 * on the test sidecar (real sockets); real daprd runs the same in test/dapr/tags.test.ts.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { cacheable, daprStore, defaultKeyBuilder, invalidateTags, memoryStore } from '../src/index.js'
import { bucketOf } from '../src/internal/tags.js'
import type { Store } from '../src/index.js'
import { startTestSidecar } from '../src/testing/index.js'
import { describeTags } from './tagScenarios.js'

const quiet = { warn: () => undefined }

describeTags('the memory store', () => {
  const store = memoryStore({ maxEntries: 100_000 })
  return Promise.resolve({ store, close: () => Promise.resolve() })
})

describeTags('the test sidecar', async () => {
  const sidecar = await startTestSidecar()
  const store = daprStore({ daprUrl: sidecar.url, env: {} })
  return {
    store,
    close: async () => {
      await store.close()
      await sidecar.close()
    },
  }
})

it('a store without versioned entries cannot tag: a CacheOptionsError at wrap time', () => {
  const plain: Store = { name: 'plain', get: () => TE.right(O.none), set: () => TE.right(undefined), delete: () => TE.right(undefined) }
  expect(() => cacheable({ store: plain, tags: () => ['a'] })(async function f() {
    return 1
  })).toThrow(/versioned entries/)
})

it('5,000 keys under one tag: deleted in chunks, progress in metrics as it goes', async () => {
  const store = memoryStore({ maxEntries: 100_000 })
  const fn = cacheable({ store, name: 'bulk', tags: () => ['big'], logger: quiet })(async (id: number) => id)
  for (let start = 0; start < 5000; start += 100) await Promise.all(Array.from({ length: 100 }, (_, i) => fn(start + i)))
  const progress: Array<number> = []
  const result = await invalidateTags(store, 'big', { metrics: [{ recordHit: () => undefined, recordMiss: () => undefined, recordWrite: () => undefined, recordError: () => undefined, recordTagInvalidation: (_tag, n) => progress.push(n) }] })()
  expect(result).toEqual(E.right({ deleted: 5000 }))
  expect(progress.length).toBeGreaterThanOrEqual(64)
  expect(Math.max(...progress)).toBeLessThanOrEqual(100)
  expect(progress.reduce((a, b) => a + b, 0)).toBe(5000)
}, 30_000)

it('a bucket write that never answers holds back the keys that come after it for at most a while', async () => {
  const inner = memoryStore()
  const setIf = inner.setIf
  if (setIf === undefined) throw new Error('the memory store has setIf')
  let hang = true
  const hanging: Store = {
    ...inner,
    setIf: (...args) => {
      if (!hang) return setIf(...args)
      hang = false
      return () => new Promise<never>(() => undefined)
    },
  }
  const fn = cacheable({ store: hanging, name: 'stuck', tags: () => ['t'], logger: quiet })(async (id: number) => id)
  const keyOf = (id: number): string => defaultKeyBuilder().buildKey('stuck', [id])
  const neighbour = Array.from({ length: 1000 }, (_, id) => id).find((id) => id > 0 && bucketOf(keyOf(id)) === bucketOf(keyOf(0)))
  if (neighbour === undefined) throw new Error('no key of the same bucket')
  void fn(0) // its bucket write never answers: that call waits with it
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = Date.now()
  expect(await fn(neighbour)).toBe(neighbour)
  expect(Date.now() - started).toBeLessThan(5_000)
  expect(await hanging.get(keyOf(neighbour))()).toEqual(E.right(O.some(expect.any(Uint8Array))))
}, 15_000)

it('tags with the lease: the key’s generations and the epoch together; invalidate and invalidateTag both win', async () => {
  const store = memoryStore()
  const source = { version: 1 }
  const fn = cacheable({ store, name: 'leased', lease: { pollMs: 5 }, tags: ([id]: [number]) => [`id:${id}`], logger: { warn: () => undefined } })(async (id: number) => ({
    id,
    version: source.version,
  }))
  expect(await fn(1)).toEqual({ id: 1, version: 1 })
  source.version = 2
  await fn.invalidate(1)
  expect(await fn(1)).toEqual({ id: 1, version: 2 })
  source.version = 3
  expect((await fn.invalidateTag('id:1')).deleted).toBe(1)
  expect(await fn(1)).toEqual({ id: 1, version: 3 })
})

it('a decorated method can invalidate a tag too', async () => {
  const store = memoryStore()
  class Users {
    calls = 0
    @cacheable({ store, tags: ([id]: [number]) => [`user:${id}`], logger: { warn: () => undefined } })
    async find(id: number): Promise<{ id: number; call: number }> {
      this.calls++
      return { id, call: this.calls }
    }
  }
  const users = new Users()
  expect(await users.find(1)).toEqual({ id: 1, call: 1 })
  expect(await users.find(1)).toEqual({ id: 1, call: 1 })
  const method = users.find as unknown as { invalidateTag: (tag: string) => Promise<{ deleted: number }> }
  expect((await method.invalidateTag.call(users, 'user:1')).deleted).toBe(1)
  expect(await users.find(1)).toEqual({ id: 1, call: 2 })
})
