/**
 * The whole cache on the real runtime, on both components: `cacheable` over `daprStore` against
 * real daprd. Miss then hit, TTL expiry in real time, invalidation, single flight, an entry a
 * Python service wrote, and an entry daprd serves that no client could decode.
 */
import { cacheable } from '../../src/cacheable.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import { defaultKeyBuilder } from '../../src/Key.js'
import { InMemoryMetrics } from '../../src/Metrics.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { deferred, pythonVectors } from '../helpers.js'
import { flavours, raw, sleep } from './helpers.js'

const vectors = pythonVectors

describe.each(flavours)('cacheable on real daprd (%s)', (flavour) => {
  let daprd: Daprd
  let store: ReturnType<typeof daprStore>
  beforeAll(async () => {
    daprd = await startDaprd({ flavour })
    store = daprStore({ daprUrl: daprd.url, env: {}, timeoutMs: 2000, breaker: false })
  })
  afterAll(async () => {
    await store.close()
    await daprd.close()
  })

  const read = async (key: string) => raw(daprd.url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)

  const setup = (name: string, ttlSeconds = 60) => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    const gate = { current: Promise.resolve() }
    const getOrder = cacheable({ store, ttlSeconds, metrics, name })(async (id: number) => {
      calls++
      await gate.current
      return { id, total: id * 10, at: new Date(0) }
    })
    return { metrics, getOrder, gate, calls: () => calls }
  }

  it('misses, stores, then hits', async () => {
    const { getOrder, metrics, calls } = setup('e2e.hit')
    expect(await getOrder(1)).toEqual({ id: 1, total: 10, at: new Date(0) })
    expect(await getOrder(1)).toEqual({ id: 1, total: 10, at: new Date(0) })
    expect(calls()).toBe(1)
    expect(metrics.getStats()).toMatchObject({ hits: 1, misses: 1, writes: 1, errors: 0 })
  })

  it('expires with the TTL', async () => {
    const { getOrder, calls } = setup('e2e.ttl', 2)
    await getOrder(2)
    await getOrder(2)
    expect(calls()).toBe(1)
    await sleep(2_600)
    await getOrder(2)
    expect(calls()).toBe(2)
  })

  it('with backgroundWrites, a miss lands in the store after its call, and an invalidation made before it landed wins', async () => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    const getOrder = cacheable({ store, metrics, name: 'e2e.background', backgroundWrites: true })(async (id: number) => {
      calls++
      return { id, version: calls }
    })
    const key = (id: number) => defaultKeyBuilder().buildKey('e2e.background', [id])
    const landed = async () => {
      for (const deadline = Date.now() + 5_000; getOrder.pending() > 0 && Date.now() < deadline; ) await sleep(2)
      expect(getOrder.pending()).toBe(0)
    }
    expect(await getOrder(1)).toEqual({ id: 1, version: 1 })
    await landed()
    expect((await read(key(1))).status).toBe(200) // written, the way the Python library reads it
    expect(await getOrder(1)).toEqual({ id: 1, version: 1 })
    // Invalidated at once after the call, while its write may still be on its way: the write does not survive it.
    expect(await getOrder(2)).toEqual({ id: 2, version: 2 })
    await getOrder.invalidate(2)
    expect((await read(key(2))).status).toBe(204)
    expect(await getOrder(2)).toEqual({ id: 2, version: 3 })
    await landed()
    expect(metrics.getStats()).toMatchObject({ hits: 1, misses: 3, errors: 0 })
  })

  it('invalidates one entry and leaves the others', async () => {
    const { getOrder, calls } = setup('e2e.invalidate')
    await getOrder(3)
    await getOrder(4)
    await getOrder.invalidate(3)
    await getOrder(3)
    await getOrder(4)
    expect(calls()).toBe(3)
  })

  it('computes once for 500 concurrent cold calls', async () => {
    const { getOrder, metrics, gate, calls } = setup('e2e.flight')
    const open = deferred()
    gate.current = open.promise
    const results = Array.from({ length: 500 }, () => getOrder(5))
    open.resolve()
    const values = await Promise.all(results)
    expect(new Set(values.map((value) => JSON.stringify(value))).size).toBe(1)
    expect(calls()).toBe(1)
    expect(metrics.getStats()).toMatchObject({ misses: 1, writes: 1 })
  })

  it('hits on an entry a Python service wrote, under the key Python computed', async () => {
    const [keyVector] = vectors.keys
    const valueVector = vectors.values.find((vector) => typeof vector.value === 'object' && vector.value !== null && !Array.isArray(vector.value) && !('$bytes_hex' in vector.value))
    if (keyVector === undefined || valueVector === undefined) throw new Error('the interop fixture lacks a key or an object value')
    const body = `[{"key": ${JSON.stringify(keyVector.key)}, "value": ${valueVector.wire}, "metadata": {"ttlInSeconds": "60"}}]`
    expect((await raw(daprd.url, 'POST', '/v1.0/state/cache', body)).status).toBe(204)
    let calls = 0
    const getUser = cacheable({ store, name: keyVector.name, keyPrefix: keyVector.prefix })(async (..._args: ReadonlyArray<unknown>) => {
      calls++
      return 'computed'
    })
    expect(await getUser(...keyVector.args)).toEqual(valueVector.value)
    expect(calls).toBe(0)
  })

  it('writes what a Python service would read', async () => {
    const { getOrder } = setup('e2e.python')
    await getOrder(6)
    const metrics = new InMemoryMetrics()
    const probe = cacheable({ store, name: 'e2e.python', metrics })(async (id: number) => ({ id, total: -1, at: new Date(0) }))
    await probe(6)
    expect(metrics.getStats().hits).toBe(1)
    // daprd hands back the base64 JSON string the Python library decodes.
    const key = defaultKeyBuilder().buildKey('e2e.python', [6])
    const answer = await read(key)
    expect(answer.status).toBe(200)
    expect(answer.body).toMatch(/^"[A-Za-z0-9+/]+=*"$/)
  })

  it('recomputes and overwrites an entry it cannot decode', async () => {
    const { getOrder, metrics, calls } = setup('e2e.corrupt')
    await getOrder(7)
    const key = defaultKeyBuilder().buildKey('e2e.corrupt', [7])
    await raw(daprd.url, 'POST', '/v1.0/state/cache', JSON.stringify([{ key, value: { not: 'base64' } }]))
    expect(await getOrder(7)).toEqual({ id: 7, total: 70, at: new Date(0) })
    expect(await getOrder(7)).toEqual({ id: 7, total: 70, at: new Date(0) })
    expect(calls()).toBe(2)
    expect(metrics.getStats()).toMatchObject({ errorsByCode: { E_CACHE_SERIALIZATION: 1 }, hits: 1 })
  })
})
