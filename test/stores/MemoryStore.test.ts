import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { CacheOptionsError } from '../../src/errors.js'
import { manualClock } from '../../src/Clock.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import { describeStore, manualTime } from '../storeConformance.js'

describeStore('memoryStore', async () => {
  const clock = manualClock(1_000_000)
  const store = memoryStore({ clock, maxBytes: 8 * 1024 * 1024 })
  return { store, elapse: manualTime(clock), teardown: () => store.close?.() ?? Promise.resolve() }
})

const one = (n: number): Uint8Array => Uint8Array.of(n)
const get = async (store: ReturnType<typeof memoryStore>, key: string) => O.toUndefined(E.getOrElseW(() => O.none)(await store.get(key)()))

describe('memoryStore', () => {
  it('evicts the least recently used entry when full', async () => {
    const store = memoryStore({ maxEntries: 3 })
    for (const key of ['a', 'b', 'c']) await store.set(key, one(1), 60)()
    await store.get('a')() // a is now the most recently used
    await store.set('d', one(1), 60)()
    expect(await get(store, 'b')).toBeUndefined()
    expect(await get(store, 'a')).toEqual(one(1))
    expect(await get(store, 'c')).toEqual(one(1))
    expect(await get(store, 'd')).toEqual(one(1))
    expect(store.usage().entries).toBe(3)
  })

  it('keeps evicting by second chance once full, however many entries it holds', async () => {
    const store = memoryStore({ maxEntries: 1000 })
    for (let n = 0; n < 1000; n++) await store.set(`k${n}`, one(1), 60)()
    // Keep reading the first hundred: they survive the whole turnover of the rest.
    for (let n = 1000; n < 20_000; n++) {
      if (n % 50 === 0) for (let hot = 0; hot < 100; hot++) await store.get(`k${hot}`)()
      await store.set(`k${n}`, one(1), 60)()
    }
    expect(store.usage().entries).toBe(1000)
    for (let hot = 0; hot < 100; hot++) expect(await get(store, `k${hot}`)).toEqual(one(1))
    expect(await get(store, 'k19999')).toEqual(one(1))
    expect(await get(store, 'k500')).toBeUndefined()
  })

  it('copies what set is given, and keeps what writeNow is handed', async () => {
    const store = memoryStore()
    const given = Uint8Array.of(1, 2, 3)
    await store.set('copied', given, 60)()
    store.writeNow('handed', given, 60)
    given[0] = 9
    expect(await get(store, 'copied')).toEqual(Uint8Array.of(1, 2, 3))
    expect(await get(store, 'handed')).toEqual(Uint8Array.of(9, 2, 3))
  })

  it('stays within maxBytes, counting keys and values', async () => {
    const store = memoryStore({ maxBytes: 100 })
    for (let index = 0; index < 10; index++) await store.set(`k${index}`, new Uint8Array(28), 60)() // 30 bytes each
    expect(store.usage().bytes).toBeLessThanOrEqual(100)
    expect(store.usage().entries).toBe(3)
    expect(await get(store, 'k9')).toBeDefined()
    expect(await get(store, 'k0')).toBeUndefined()
  })

  it('refuses an entry larger than maxBytes, as a value, and keeps the rest', async () => {
    const store = memoryStore({ maxBytes: 10 })
    await store.set('a', one(1), 60)()
    const result = await store.set('big', new Uint8Array(64), 60)()
    expect(E.isLeft(result) && result.left).toMatchObject({ code: 'E_CACHE_STORE_REJECTED', key: 'big' })
    expect(await get(store, 'a')).toEqual(one(1))
  })

  it('expires at the TTL to the millisecond of its clock', async () => {
    const clock = manualClock(0)
    const store = memoryStore({ clock })
    await store.set('k', one(1), 1)()
    clock.set(999)
    expect(await get(store, 'k')).toEqual(one(1))
    clock.set(1000)
    expect(await get(store, 'k')).toBeUndefined()
    expect(store.usage()).toEqual({ entries: 0, bytes: 0 })
  })

  it('accounts bytes exactly through overwrite, delete and clear', async () => {
    const store = memoryStore()
    await store.set('ab', new Uint8Array(10), 60)()
    await store.set('ab', new Uint8Array(4), 60)()
    expect(store.usage()).toEqual({ entries: 1, bytes: 6 })
    await store.delete('ab')()
    expect(store.usage()).toEqual({ entries: 0, bytes: 0 })
    await store.set('x', new Uint8Array(4), 60)()
    store.clear()
    expect(store.usage()).toEqual({ entries: 0, bytes: 0 })
  })

  it('law: for any mix of reads, writes, deletes and time, what it holds and counts matches a plain model', () => {
    // Reads drop expired entries and remember the key they missed; writes replace. The model keeps
    // the same lazy expiry, so the counts must agree after every step.
    const key = fc.constantFrom('a', 'bb', 'ccc')
    const step = fc.oneof(
      fc.record({ op: fc.constant('read' as const), key }),
      fc.record({ op: fc.constantFrom('writeNow' as const, 'set' as const), key, size: fc.integer({ min: 0, max: 8 }), ttl: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ op: fc.constant('delete' as const), key }),
      fc.record({ op: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 2500 }) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const clock = manualClock(0)
        const store = memoryStore({ clock })
        const model = new Map<string, { readonly size: number; readonly expiresAt: number }>()
        for (const s of steps) {
          if (s.op === 'read') {
            const held = model.get(s.key)
            const live = held !== undefined && clock.now() < held.expiresAt
            if (held !== undefined && !live) model.delete(s.key)
            const found = store.readNow(s.key)
            expect(E.isRight(found) && O.isSome(found.right) ? found.right.value.byteLength : undefined).toBe(live ? held.size : undefined)
          } else if (s.op === 'delete') {
            void store.delete(s.key)()
            model.delete(s.key)
          } else if (s.op === 'wait') {
            clock.advance(s.ms)
          } else {
            if (s.op === 'writeNow') store.writeNow(s.key, new Uint8Array(s.size), s.ttl)
            else void store.set(s.key, new Uint8Array(s.size), s.ttl)()
            model.set(s.key, { size: s.size, expiresAt: clock.now() + s.ttl * 1000 })
          }
          const bytes = [...model].reduce((sum, [k, held]) => sum + k.length + held.size, 0)
          expect(store.usage()).toEqual({ entries: model.size, bytes })
        }
      }),
    )
  })

  it.each([
    ['maxEntries', 0],
    ['maxEntries', 1.5],
    ['maxBytes', -1],
    ['maxBytes', Number.POSITIVE_INFINITY],
  ])('refuses %s = %p when built', (option, value) => {
    const build = () => memoryStore({ [option]: value })
    expect(build).toThrow(CacheOptionsError)
    expect(build).toThrow(new RegExp(`\`${option}\``))
  })

  it('allocates nothing shared: two stores are independent', async () => {
    const first = memoryStore()
    const second = memoryStore()
    await first.set('k', one(1), 60)()
    expect(await get(second, 'k')).toBeUndefined()
  })
})
