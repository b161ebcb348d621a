/**
 * Batched reads of the Dapr store against the test sidecar: one bulk read for the reads of a turn,
 * each caller its own key's answer, a lone read a single GET, a sidecar without the bulk endpoint
 * read key by key from then on, and a bulk answer that lacks, repeats or garbles a key never handed
 * to another caller's key. The conformance suite runs with and without batching (DaprStore.test.ts).
 */
import * as E from 'fp-ts/lib/Either.js'
import * as O from 'fp-ts/lib/Option.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import { startTestSidecar } from '../../src/testing/index.js'
import type { TestSidecar } from '../../src/testing/index.js'

describe('daprStore with batched reads', () => {
  let sidecar: TestSidecar
  beforeEach(async () => {
    sidecar = await startTestSidecar()
  })
  afterEach(async () => {
    await sidecar.close()
  })

  const bytesOf = (read: E.Either<unknown, O.Option<Uint8Array>>): string | undefined =>
    E.isRight(read) && O.isSome(read.right) ? Buffer.from(read.right.value).toString() : undefined

  it('reads 50 keys asked for in one turn with one bulk read; each caller gets its own key', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: true })
    try {
      for (let i = 0; i < 50; i += 2) await store.set(`k${i}`, Buffer.from(`v${i}`), 60)()
      sidecar.clearRequests()
      const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => store.get(`k${i}`)()))
      expect(reads.map(bytesOf)).toEqual(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? `v${i}` : undefined)))
      expect(sidecar.requests.map((r) => r.route)).toEqual(['bulk'])
    } finally {
      await store.close()
    }
  })

  it('a lone read is a single GET; one key asked twice is read once and each caller gets its own bytes', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: true })
    try {
      await store.set('a', Buffer.from('x'), 60)()
      sidecar.clearRequests()
      expect(bytesOf(await store.get('a')())).toBe('x')
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get'])
      sidecar.clearRequests()
      const [one, two] = await Promise.all([store.get('a')(), store.get('a')()])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get'])
      if (E.isLeft(one) || E.isLeft(two) || O.isNone(one.right) || O.isNone(two.right)) throw new Error('both read')
      expect(one.right.value).not.toBe(two.right.value)
      expect(Buffer.from(two.right.value).toString()).toBe('x')
    } finally {
      await store.close()
    }
  })

  it('sends a batch as soon as it holds maxKeys keys', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: { maxKeys: 10 } })
    try {
      sidecar.clearRequests()
      await Promise.all(Array.from({ length: 25 }, (_, i) => store.get(`m${i}`)()))
      const bulks = sidecar.requests.filter((r) => r.route === 'bulk').map((r) => (JSON.parse(r.body) as { keys: Array<string> }).keys.length)
      expect(bulks).toEqual([10, 10, 5])
    } finally {
      await store.close()
    }
  })

  it('a sidecar without the bulk endpoint (404) is read key by key, and remembered', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: true })
    try {
      await store.set('b0', Buffer.from('zero'), 60)()
      sidecar.fault({ route: 'bulk', kind: 'status', status: 404, errorCode: 'ERR_DIRECT_INVOKE', message: 'not here' })
      sidecar.clearRequests()
      const first = await Promise.all([store.get('b0')(), store.get('b1')()])
      expect(first.map(bytesOf)).toEqual(['zero', undefined])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['bulk', 'get', 'get'])
      sidecar.clearRequests()
      await Promise.all([store.get('b0')(), store.get('b1')()])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get', 'get'])
    } finally {
      await store.close()
    }
  })

  it('getMany (many) on a sidecar without the bulk endpoint reads key by key too, sharing what the batches learnt', async () => {
    const metrics = new InMemoryMetrics()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, metrics })
    try {
      await store.set('c0', Buffer.from('zero'), 60)()
      sidecar.fault({ route: 'bulk', kind: 'status', status: 405, errorCode: 'ERR_DIRECT_INVOKE', message: 'no' })
      sidecar.clearRequests()
      const first = await store.getMany?.(['c0', 'c1', 'c0'])()
      expect(first !== undefined && E.isRight(first) ? first.right.map(bytesOf) : first).toEqual(['zero', undefined, 'zero'])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['bulk', 'get', 'get'])
      sidecar.clearRequests()
      await Promise.all([store.get('c0')(), store.get('c1')()])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get', 'get'])
      // Every read that went out, by its size: the two single reads of getMany and the two after it.
      expect(metrics.getStats()).toMatchObject({ batches: 4, batchedKeys: 4, batchSizes: { '1': 4 } })
    } finally {
      await store.close()
    }
  })

  it('with batch: false every read goes alone, and is reported as a read of 1', async () => {
    const metrics = new InMemoryMetrics()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, metrics, batch: false })
    try {
      sidecar.clearRequests()
      await Promise.all([store.get('e0')(), store.get('e1')(), store.get('e2')()])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get', 'get', 'get'])
      expect(metrics.getStats()).toMatchObject({ batches: 3, batchedKeys: 3, batchSizes: { '1': 3 } })
    } finally {
      await store.close()
    }
  })

  it('getMany splits more keys than maxKeys into bulk reads side by side', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: { maxKeys: 40 } })
    try {
      await store.set('d7', Buffer.from('seven'), 60)()
      sidecar.clearRequests()
      const keys = Array.from({ length: 100 }, (_, i) => `d${i}`)
      const found = await store.getMany?.(keys)()
      expect(found !== undefined && E.isRight(found) ? found.right.map(bytesOf) : found).toEqual(keys.map((key) => (key === 'd7' ? 'seven' : undefined)))
      expect(sidecar.requests.map((r) => [r.route, (JSON.parse(r.body) as { keys: ReadonlyArray<string> }).keys.length])).toEqual([
        ['bulk', 40],
        ['bulk', 40],
        ['bulk', 20],
      ])
    } finally {
      await store.close()
    }
  })

  it('learns the values’ size: large ones are read key by key, middling ones a few keys per bulk read, small ones in one', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {} })
    try {
      const write = async (prefix: string, bytes: number, count: number): Promise<ReadonlyArray<string>> => {
        const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`)
        for (const key of keys) await store.set(key, Buffer.alloc(bytes, 1), 60)()
        return keys
      }
      const turn = async (keys: ReadonlyArray<string>): Promise<ReadonlyArray<readonly [string, number]>> => {
        sidecar.clearRequests()
        const reads = await Promise.all(keys.map((key) => store.get(key)()))
        expect(reads.every((read) => E.isRight(read) && O.isSome(read.right))).toBe(true)
        return sidecar.requests.map((r) => [r.route, r.route === 'bulk' ? (JSON.parse(r.body) as { keys: ReadonlyArray<string> }).keys.length : 1] as const)
      }
      const large = await write('large', 40_000, 8)
      // Nothing learnt yet: one bulk read. Then it knows: a GET per key.
      expect(await turn(large)).toEqual([['bulk', 8]])
      expect(await turn(large)).toEqual(Array.from({ length: 8 }, () => ['get', 1]))
      // One key asked three times in a turn is still read once, each caller its own bytes.
      sidecar.clearRequests()
      const same = await Promise.all([store.get('large0')(), store.get('large0')(), store.get('large0')()])
      expect(sidecar.requests.map((r) => r.route)).toEqual(['get'])
      const values = same.map((read) => (E.isRight(read) && O.isSome(read.right) ? read.right.value : undefined))
      expect(new Set(values).size).toBe(3)
      expect(values.every((value) => value?.byteLength === 40_000)).toBe(true)
      // getMany too.
      sidecar.clearRequests()
      await store.getMany?.(large)()
      expect(sidecar.requests.map((r) => r.route)).toEqual(Array.from({ length: 8 }, () => 'get'))
      // Values of 4 kB, read a while: four keys per bulk read (about 16 kB), side by side.
      const middling = await write('middling', 4_000, 16)
      for (let i = 0; i < 6; i++) await turn(middling)
      expect(await turn(middling)).toEqual(Array.from({ length: 4 }, () => ['bulk', 4]))
      // Small values again: one bulk read once it has seen enough of them.
      const small = await write('small', 100, 40)
      for (let i = 0; i < 3; i++) await turn(small)
      expect(await turn(small)).toEqual([['bulk', 40]])
    } finally {
      await store.close()
    }
  })

  it('an entry over maxValueBytes in a bulk answer is that key’s ValueTooLarge; the others are read', async () => {
    const writer = daprStore({ daprUrl: sidecar.url, env: {} })
    const metrics = new InMemoryMetrics()
    const reader = daprStore({ daprUrl: sidecar.url, env: {}, maxValueBytes: 1000, metrics })
    try {
      await writer.set('big', new Uint8Array(5000).fill(7), 60)()
      await writer.set('small', Buffer.from('ok'), 60)()
      sidecar.clearRequests()
      const [big, small] = await Promise.all([reader.get('big')(), reader.get('small')()])
      // The bulk answer was past the batch's bound: each key read again alone.
      expect(sidecar.requests.map((r) => r.route)).toEqual(['bulk', 'get', 'get'])
      // And counted as it went: one bulk read of two keys, then two single reads.
      expect(metrics.getStats()).toMatchObject({ batches: 3, batchedKeys: 4, batchSizes: { '1': 2, '2': 1 } })
      expect(E.isLeft(big) && big.left._tag).toBe('ValueTooLarge')
      expect(bytesOf(small)).toBe('ok')
      // Within the batch's bound, past the value's: that entry alone, from the bulk answer itself.
      await writer.set('mid', new Uint8Array(1200).fill(1), 60)()
      sidecar.clearRequests()
      const reads = await Promise.all(['mid', 'small', 'none', 'small2'].map((key) => reader.get(key)()))
      expect(sidecar.requests.map((r) => r.route)).toEqual(['bulk'])
      expect(reads.map((read) => (E.isLeft(read) ? read.left._tag : bytesOf(read)))).toEqual(['ValueTooLarge', 'ok', undefined, undefined])
    } finally {
      await writer.close()
      await reader.close()
    }
  })

  it('a bulk answer that lacks a key, repeats one or names another is an error of those keys alone, never another caller’s value', async () => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, batch: true })
    try {
      const value = (text: string) => JSON.stringify(Buffer.from(text).toString('base64'))
      sidecar.fault({
        route: 'bulk',
        kind: 'garbage',
        body: `[{"key":"x","data":${value('for x')}},{"key":"y","data":${value('y one')}},{"key":"y","data":${value('y two')}},{"key":"stranger","data":${value('nobody')}}]`,
        times: 1,
      })
      const [x, y, z] = await Promise.all([store.get('x')(), store.get('y')(), store.get('z')()])
      expect(bytesOf(x)).toBe('for x')
      expect(E.isLeft(y) && y.left.message).toMatch(/2 times/)
      expect(E.isLeft(z) && z.left.message).toMatch(/lacked the key/)
      sidecar.fault({ route: 'bulk', kind: 'garbage', body: '{"not": "a list"', times: 1 })
      const garbled = await Promise.all([store.get('x')(), store.get('y')()])
      expect(garbled.every(E.isLeft)).toBe(true)
    } finally {
      await store.close()
    }
  })

  it.each([
    ['500', { kind: 'status' as const, status: 500 }, 'E_CACHE_STORE_REJECTED'],
    ['a reset', { kind: 'reset' as const }, 'E_CACHE_CONNECTION'],
    ['a hang past the deadline', { kind: 'hang' as const }, 'E_CACHE_TIMEOUT'],
  ])('a bulk read that fails (%s) fails each of its keys with the same typed error, and nothing hangs', async (_name, fault, code) => {
    const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 100, breaker: false })
    try {
      sidecar.fault({ route: 'bulk', ...fault })
      const reads = await Promise.all([store.get('p')(), store.get('q')()])
      expect(reads.map((read) => (E.isLeft(read) ? read.left.code : 'ok'))).toEqual([code, code])
    } finally {
      await store.close()
    }
  })

  it('refuses bad batch options at construction, naming them', () => {
    expect(() => daprStore({ env: {}, batch: { windowMs: 5 } })).toThrow(/batch.windowMs/)
    expect(() => daprStore({ env: {}, batch: { maxKeys: 0 } })).toThrow(/batch.maxKeys/)
    expect(() => daprStore({ env: {}, batch: { size: 3 } as never })).toThrow(/batch.size/)
    expect(() => daprStore({ env: {}, batch: 'yes' as never })).toThrow(/batch/)
    expect(() => daprStore({ env: {}, metrics: { recordHit: 1 } as never })).toThrow(/`metrics`/)
  })
})
