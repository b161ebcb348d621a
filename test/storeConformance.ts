/**
 * The conformance suite every `Store` interpreter must pass: what the engine relies on, and nothing
 * about how a store does it. A store under test says how time passes for it: a manual clock that
 * drives its TTLs (expiry tested without sleeping, to the millisecond), or real time with a margin
 * for a store whose clock is out of our hands (real daprd and Redis).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import type { ManualClock } from '../src/Clock.js'
import type { Store } from '../src/Store.js'

export interface StoreUnderTest {
  readonly store: Store
  /** Lets `ms` milliseconds pass for the store's TTLs. */
  readonly elapse: (ms: number) => Promise<void>
  /** How far from a TTL's end the checks stay (0 for a manual clock; real time needs some). */
  readonly marginMs?: number | undefined
  readonly teardown: () => Promise<void>
}

const bytes = (...values: ReadonlyArray<number>): Uint8Array => Uint8Array.from(values)

const expectRight = <A>(result: E.Either<unknown, A>): A => {
  if (E.isLeft(result)) throw new Error(`expected Right, got Left ${JSON.stringify(result.left)}`)
  return result.right
}

/** Time for a store whose TTLs run on this manual clock. */
export const manualTime = (clock: ManualClock) => async (ms: number): Promise<void> => {
  clock.advance(ms)
}

export const describeStore = (label: string, setup: () => Promise<StoreUnderTest>): void => {
  describe(`Store conformance: ${label}`, () => {
    let subject: StoreUnderTest
    let store: Store

    beforeEach(async () => {
      subject = await setup()
      store = subject.store
    })
    afterEach(async () => {
      await subject.teardown()
    })

    const read = async (key: string): Promise<Uint8Array | undefined> =>
      O.toUndefined(expectRight(await store.get(key)()))

    it('has a non-empty name', () => {
      expect(typeof store.name).toBe('string')
      expect(store.name.length).toBeGreaterThan(0)
    })

    it('answers none for a key never written', async () => {
      expect(await read('conformance:never-written')).toBeUndefined()
    })

    it('reads back exactly the bytes written', async () => {
      const value = bytes(0, 1, 2, 254, 255)
      expectRight(await store.set('conformance:a', value, 60)())
      expect(await read('conformance:a')).toEqual(value)
    })

    it('keeps an empty value apart from a missing one', async () => {
      expectRight(await store.set('conformance:empty', new Uint8Array(0), 60)())
      expect(await read('conformance:empty')).toEqual(new Uint8Array(0))
    })

    it('overwrites', async () => {
      expectRight(await store.set('conformance:o', bytes(1), 60)())
      expectRight(await store.set('conformance:o', bytes(2, 3), 60)())
      expect(await read('conformance:o')).toEqual(bytes(2, 3))
    })

    it('shares no buffer with its callers', async () => {
      const value = bytes(7, 7, 7)
      expectRight(await store.set('conformance:copy', value, 60)())
      value[0] = 0
      const first = await read('conformance:copy')
      expect(first).toEqual(bytes(7, 7, 7))
      if (first !== undefined) first[1] = 0
      expect(await read('conformance:copy')).toEqual(bytes(7, 7, 7))
    })

    it('deletes, and deleting a missing key succeeds', async () => {
      expectRight(await store.set('conformance:d', bytes(1), 60)())
      expectRight(await store.delete('conformance:d')())
      expect(await read('conformance:d')).toBeUndefined()
      expectRight(await store.delete('conformance:d')())
      expectRight(await store.delete('conformance:never-there')())
    })

    it('honours the TTL: readable just before it ends, gone just after', async () => {
      const margin = subject.marginMs ?? 0
      expectRight(await store.set('conformance:ttl', bytes(9), 2)())
      await subject.elapse(1_999 - margin)
      expect(await read('conformance:ttl')).toEqual(bytes(9))
      await subject.elapse(1_002 + 2 * margin)
      expect(await read('conformance:ttl')).toBeUndefined()
    })

    it('restarts the TTL when a key is written again', async () => {
      expectRight(await store.set('conformance:ttl2', bytes(1), 2)())
      await subject.elapse(1_000)
      expectRight(await store.set('conformance:ttl2', bytes(2), 2)())
      await subject.elapse(1_500)
      expect(await read('conformance:ttl2')).toEqual(bytes(2))
    })

    it('refuses a TTL that is not a positive integer, as a value', async () => {
      for (const ttl of [0, -1, 1.5, Number.NaN]) {
        const result = await store.set('conformance:bad-ttl', bytes(1), ttl)()
        expect(E.isLeft(result) && result.left.code).toBe('E_CACHE_INVALID_OPTIONS')
      }
      expect(await read('conformance:bad-ttl')).toBeUndefined()
    })

    it('keeps keys with awkward characters apart and intact', async () => {
      const keys = [
        'cache:a/b:1',
        'cache:a%2Fb:1',
        'cache:a+b:1',
        'cache:a b:1',
        'cache:a?b=c:1',
        'cache:a#b:1',
        'cache:..:1',
        'cache:../../etc:1',
        'cache:José 日本 😀:1',
        'cache:%zz:1',
        `cache:${'k'.repeat(500)}:1`,
      ]
      for (const [index, key] of keys.entries()) expectRight(await store.set(key, bytes(index), 60)())
      for (const [index, key] of keys.entries()) expect(await read(key)).toEqual(bytes(index))
    })

    it('round-trips a 1 MiB value', async () => {
      const value = new Uint8Array(1024 * 1024).map((_, index) => (index * 31) % 256)
      expectRight(await store.set('conformance:big', value, 60)())
      const back = await read('conformance:big')
      // Buffer comparison: a million-element toEqual would dominate the suite's time.
      expect(back !== undefined && Buffer.from(back).equals(Buffer.from(value))).toBe(true)
    })

    it('serves many concurrent operations on different keys', async () => {
      const keys = Array.from({ length: 200 }, (_, index) => `conformance:many:${index}`)
      const writes = await Promise.all(keys.map((key, index) => store.set(key, bytes(index % 256), 60)()))
      expect(writes.every(E.isRight)).toBe(true)
      const reads = await Promise.all(keys.map((key) => read(key)))
      expect(reads).toEqual(keys.map((_, index) => bytes(index % 256)))
    })

    it('writes several entries in one setMany, each with its own TTL, and reads them back in order with getMany', async () => {
      const { setMany, getMany } = store
      if (setMany === undefined || getMany === undefined) return expect(setMany === undefined && getMany === undefined).toBe(true) // both or neither
      const margin = subject.marginMs ?? 0
      expectRight(
        await setMany([
          { key: 'conformance:many:short', value: bytes(1, 2), ttlSeconds: 2 },
          { key: 'conformance:many:long', value: bytes(3), ttlSeconds: 60 },
          { key: 'conformance:many:empty', value: bytes(), ttlSeconds: 60 },
        ])(),
      )
      const answers = expectRight(await getMany(['conformance:many:long', 'conformance:many:absent', 'conformance:many:short', 'conformance:many:empty'])())
      expect(answers.map((answer) => O.toUndefined(expectRight(answer)))).toEqual([bytes(3), undefined, bytes(1, 2), bytes()])
      expect(expectRight(await getMany([])())).toEqual([])
      expectRight(await setMany([])())
      await subject.elapse(2_001 + 2 * margin)
      const later = expectRight(await getMany(['conformance:many:short', 'conformance:many:long'])())
      expect(later.map((answer) => O.toUndefined(expectRight(answer)))).toEqual([undefined, bytes(3)])
    })

    it('refuses a setMany with one bad entry before sending anything', async () => {
      const { setMany, get } = store
      if (setMany === undefined) return
      const refused = await setMany([
        { key: 'conformance:many:fine', value: bytes(1), ttlSeconds: 60 },
        { key: 'conformance:many:bad', value: bytes(1), ttlSeconds: 0 },
      ])()
      expect(E.isLeft(refused)).toBe(true)
      expect(O.isNone(expectRight(await get('conformance:many:fine')()))).toBe(true)
    })

    it('versions entries: setIf and deleteIf go ahead only at the version read, and a create only where none is', async () => {
      const { getVersioned, setIf, deleteIf } = store
      if (getVersioned === undefined || setIf === undefined || deleteIf === undefined) return
      const key = 'conformance:versioned'
      expect(O.isNone(expectRight(await getVersioned(key)()))).toBe(true)
      expect(expectRight(await setIf(key, bytes(1), 60, undefined)())).toBe(true)
      // A second create loses: another writer came first.
      expect(expectRight(await setIf(key, bytes(2), 60, undefined)())).toBe(false)
      const first = expectRight(await getVersioned(key)())
      if (O.isNone(first)) throw new Error('written')
      expect([...first.value.value]).toEqual([1])
      expect(expectRight(await setIf(key, bytes(3), 60, first.value.etag)())).toBe(true)
      // The version read before that write is stale now.
      expect(expectRight(await setIf(key, bytes(4), 60, first.value.etag)())).toBe(false)
      expect(expectRight(await deleteIf(key, first.value.etag)())).toBe(false)
      const second = expectRight(await getVersioned(key)())
      if (O.isNone(second)) throw new Error('written')
      expect([...second.value.value]).toEqual([3])
      expect(second.value.etag).not.toBe(first.value.etag)
      expect(expectRight(await deleteIf(key, second.value.etag)())).toBe(true)
      expect(O.isNone(expectRight(await store.get(key)()))).toBe(true)
    })

    it('of two writers adding to one versioned entry at once, neither loses its addition', async () => {
      const { getVersioned, setIf } = store
      if (getVersioned === undefined || setIf === undefined) return
      const key = 'conformance:versioned:race'
      await store.delete(key)() // a store shared with an earlier run of the suite starts clean
      const add = async (item: number): Promise<void> => {
        for (let attempt = 0; attempt < 50; attempt++) {
          const read = expectRight(await getVersioned(key)())
          const items = O.isNone(read) ? [] : [...read.value.value]
          if (expectRight(await setIf(key, Uint8Array.from([...items, item]), 60, O.isNone(read) ? undefined : read.value.etag)())) return
        }
        throw new Error(`item ${item} was never added`)
      }
      await Promise.all(Array.from({ length: 8 }, (_, item) => add(item)))
      const final = expectRight(await getVersioned(key)())
      if (O.isNone(final)) throw new Error('written')
      expect([...final.value.value].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    })

    it('deletes several keys at once with deleteMany, missing ones included', async () => {
      const { deleteMany } = store
      if (deleteMany === undefined) return
      for (const key of ['conformance:dm:a', 'conformance:dm:b']) expectRight(await store.set(key, bytes(1), 60)())
      expectRight(await deleteMany(['conformance:dm:a', 'conformance:dm:b', 'conformance:dm:never'])())
      for (const key of ['conformance:dm:a', 'conformance:dm:b']) expect(O.isNone(expectRight(await store.get(key)()))).toBe(true)
    })
  })
}
