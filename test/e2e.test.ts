/**
 * The whole cache, end to end over HTTP: `cacheable` on the Dapr store, against the test sidecar on
 * loopback. Hit, miss, TTL expiry, invalidation, single flight and best-effort fallback, each
 * checked on the results, the metrics and the sidecar's own request log.
 */
import { manualClock } from '../src/Clock.js'
import { cacheable } from '../src/cacheable.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { InMemoryMetrics } from '../src/Metrics.js'
import { startTestSidecar } from '../src/testing/index.js'
import type { TestSidecar } from '../src/testing/index.js'
import { collectingLogger, deferred } from './helpers.js'

describe('cacheable over HTTP against the test sidecar', () => {
  const clock = manualClock(Date.UTC(2026, 5, 1))
  let sidecar: TestSidecar
  let store: ReturnType<typeof daprStore>

  beforeAll(async () => {
    sidecar = await startTestSidecar({ clock })
    store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 500, breaker: false }) // the breaker has tests of its own
  })
  afterAll(async () => {
    await store.close()
    await sidecar.close()
  })
  beforeEach(() => {
    sidecar.clearFaults()
    sidecar.clearRequests()
    sidecar.state('cache').clear()
  })

  const routes = () => sidecar.requests.map((request) => request.route)

  const setup = (ttlSeconds = 60) => {
    const metrics = new InMemoryMetrics()
    const logger = collectingLogger()
    let calls = 0
    const gate = { current: Promise.resolve() }
    const getOrder = cacheable({ store, ttlSeconds, metrics, logger, name: 'orders.get' })(async (id: number) => {
      calls++
      await gate.current
      return { id, total: id * 10, at: new Date(0) }
    })
    return { metrics, logger, getOrder, gate, calls: () => calls }
  }

  it('misses, stores, then hits', async () => {
    const { getOrder, metrics, calls } = setup()
    expect(await getOrder(1)).toEqual({ id: 1, total: 10, at: new Date(0) })
    expect(await getOrder(1)).toEqual({ id: 1, total: 10, at: new Date(0) })
    expect(calls()).toBe(1)
    expect(routes()).toEqual(['get', 'save', 'get'])
    expect(metrics.getStats()).toMatchObject({ hits: 1, misses: 1, writes: 1, errors: 0 })
    const saved = JSON.parse(sidecar.requests[1]?.body ?? '[]') as Array<{ metadata: { ttlInSeconds: string } }>
    expect(saved[0]?.metadata.ttlInSeconds).toBe('60')
  })

  it('expires with the TTL', async () => {
    const { getOrder, calls } = setup(30)
    await getOrder(2)
    clock.advance(30_000)
    await getOrder(2)
    expect(calls()).toBe(1)
    clock.advance(1)
    await getOrder(2)
    expect(calls()).toBe(2)
  })

  it('invalidates one entry with a DELETE', async () => {
    const { getOrder, calls } = setup()
    await getOrder(3)
    await getOrder(4)
    await getOrder.invalidate(3)
    expect(routes().filter((route) => route === 'delete')).toHaveLength(1)
    await getOrder(3)
    await getOrder(4)
    expect(calls()).toBe(3)
  })

  it('computes once for 1,000 concurrent cold calls: one GET, one save', async () => {
    const { getOrder, metrics, gate, calls } = setup()
    const open = deferred()
    gate.current = open.promise
    const results = Array.from({ length: 1000 }, () => getOrder(5))
    open.resolve()
    const values = await Promise.all(results)
    expect(new Set(values.map((value) => JSON.stringify(value))).size).toBe(1)
    expect(calls()).toBe(1)
    expect(routes()).toEqual(['get', 'save'])
    expect(metrics.getStats()).toMatchObject({ misses: 1, writes: 1, coalesced: 999 })
  })

  it('with backgroundWrites, answers a miss before its save is answered, and joins calls to it until it is', async () => {
    const metrics = new InMemoryMetrics()
    let calls = 0
    const getOrder = cacheable({ store, metrics, name: 'orders.background', backgroundWrites: true })(async (id: number) => {
      calls++
      return { id, total: id * 10 }
    })
    sidecar.fault({ route: 'save', kind: 'delay', delayMs: 200, times: 1 })
    expect(await getOrder(3)).toEqual({ id: 3, total: 30 })
    expect(getOrder.pending()).toBe(1) // the save is on its way: the sidecar answers it 200 ms late
    expect(await getOrder(3)).toEqual({ id: 3, total: 30 })
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (getOrder.pending() === 0) resolve(clearInterval(poll))
      }, 5)
    })
    expect(routes()).toEqual(['get', 'save']) // the call that came meanwhile neither read nor wrote
    expect(sidecar.state('cache').entries().map(([key]) => key)).toEqual([expect.stringMatching(/^cache:orders\.background:[0-9a-f]{16}$/)])
    expect(await getOrder(3)).toEqual({ id: 3, total: 30 })
    expect({ calls, routes: routes() }).toEqual({ calls: 1, routes: ['get', 'save', 'get'] })
    expect(metrics.getStats()).toMatchObject({ hits: 1, misses: 1, coalesced: 1, writes: 1, errors: 0 })
  })

  it('falls back to the function when the sidecar fails, counting and warning once', async () => {
    const { getOrder, metrics, logger, calls } = setup()
    sidecar.fault({ route: 'get', kind: 'status', status: 500, errorCode: 'ERR_STATE_GET' })
    for (let id = 10; id < 20; id++) expect(await getOrder(id)).toEqual({ id, total: id * 10, at: new Date(0) })
    expect(calls()).toBe(10)
    expect(routes().every((route) => route === 'get')).toBe(true) // no writes to a store in trouble
    expect(metrics.getStats()).toMatchObject({ errors: 10, errorsByCode: { E_CACHE_STORE_REJECTED: 10 } })
    expect(logger.lines).toHaveLength(1)
  })

  it('falls back when the sidecar hangs, after its own deadline', async () => {
    const { getOrder, metrics } = setup()
    sidecar.fault({ route: 'get', kind: 'hang', times: 1 })
    expect(await getOrder(21)).toEqual({ id: 21, total: 210, at: new Date(0) })
    expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_TIMEOUT: 1 })
  })

  it('falls back when connections are refused, and caches again once the sidecar is back', async () => {
    const { getOrder, metrics, calls } = setup()
    await sidecar.refuseConnections()
    try {
      expect(await getOrder(30)).toEqual({ id: 30, total: 300, at: new Date(0) })
      expect(metrics.getStats().errorsByCode).toEqual({ E_CACHE_CONNECTION: 1 })
    } finally {
      await sidecar.acceptConnections()
    }
    await getOrder(30)
    await getOrder(30)
    expect(calls()).toBe(2)
    expect(metrics.getStats()).toMatchObject({ hits: 1, writes: 1 })
  })

  it('recomputes and overwrites an entry another client wrote in a shape it cannot read', async () => {
    const { getOrder, metrics, calls } = setup()
    await getOrder(40)
    const [key] = sidecar.state('cache').entries().map(([entryKey]) => entryKey)
    sidecar.state('cache').set(key ?? '', '{"not":"base64"}')
    expect(await getOrder(40)).toEqual({ id: 40, total: 400, at: new Date(0) })
    expect(await getOrder(40)).toEqual({ id: 40, total: 400, at: new Date(0) })
    expect(calls()).toBe(2)
    expect(metrics.getStats()).toMatchObject({ errors: 1, errorsByCode: { E_CACHE_SERIALIZATION: 1 }, hits: 1 })
  })
})
