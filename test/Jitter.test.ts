/**
 * TTL jitter, on the wire: 1,000 keys written together over HTTP to the test sidecar carry TTLs
 * spread over the whole band, and nothing else about the save changes.
 */
import fc from 'fast-check'
import { cacheable } from '../src/cacheable.js'
import { jittered, withJitter } from '../src/Jitter.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { memoryStore } from '../src/stores/MemoryStore.js'
import { startTestSidecar } from '../src/testing/index.js'

describe('jitter', () => {
  it('spreads the ttlInSeconds of 1,000 keys written together with TTL 100 s over 90-110 s', async () => {
    const sidecar = await startTestSidecar()
    const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
    try {
      const square = cacheable({ store, ttlSeconds: 100, jitter: 0.1, name: 'jitter.square' })(async (n: number) => n * n)
      await Promise.all(Array.from({ length: 1000 }, (_, n) => square(n)))
      const saves = sidecar.requests.filter((request) => request.route === 'save')
      const items = saves.flatMap((request) => JSON.parse(request.body ?? '[]') as Array<{ key: string; metadata: { ttlInSeconds: string } }>)
      expect(items).toHaveLength(1000) // values only: jitter alone keeps no companion entry
      const ttls = items.map((item) => Number(item.metadata.ttlInSeconds))
      expect(items.every((item) => /^\d+$/.test(item.metadata.ttlInSeconds))).toBe(true)
      expect(Math.min(...ttls)).toBeGreaterThanOrEqual(90)
      expect(Math.max(...ttls)).toBeLessThanOrEqual(110)
      // Spread over the band, not bunched: every whole second from 91 to 109 is used.
      const used = new Set(ttls)
      for (let ttl = 91; ttl <= 109; ttl++) expect(used.has(ttl)).toBe(true)
    } finally {
      await store.close()
      await sidecar.close()
    }
  })

  it('stays within the band, in whole seconds of at least 1, whatever the draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0.001, max: 0.999, noNaN: true }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (ttl, fraction, draw) => {
        const spread = jittered(ttl, fraction, () => draw)
        return Number.isSafeInteger(spread) && spread >= 1 && spread >= Math.floor(ttl * (1 - fraction)) && spread <= Math.ceil(ttl * (1 + fraction))
      }),
    )
  })

  it('refuses a fraction outside (0, 1), in both faces', () => {
    expect(() => withJitter(0)).toThrow('invalid option `jitter`: expected a fraction of the TTL, greater than 0 and less than 1, got 0')
    expect(() => withJitter(1)).toThrow('jitter')
    expect(() => cacheable({ store: memoryStore(), jitter: -0.1 })).toThrow('jitter')
  })
})
