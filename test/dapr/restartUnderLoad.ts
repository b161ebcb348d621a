/**
 * A restart of a component's server under load, on real daprd: callers keep calling a cached
 * function while the server (Redis, the Redis Cluster, PostgreSQL) is stopped and started again.
 * Every call gets the right answer (the cache's trouble runs the function uncached, never fails
 * it), and once the server is back the cache serves hits again.
 */
import { InMemoryMetrics, cacheable, daprStore } from '../../src/index.js'
import type { Daprd } from '../../src/testing/index.js'
import { sleep } from './helpers.js'

export interface Restartable {
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export const itRestartsUnderLoad = (label: string, start: () => Promise<{ daprd: Daprd; server: Restartable }>): void => {
  it(`${label}: a restart of the server under load; every call answered right, the cache back after`, async () => {
    const { daprd, server } = await start()
    const store = daprStore({ daprUrl: daprd.url, env: {}, timeoutMs: 500, breaker: { cooldownMs: 500 } })
    const metrics = new InMemoryMetrics()
    const value = cacheable({ store, name: 'restart.value', metrics, logger: { warn: () => undefined } })(async (id: number) => {
      await sleep(2)
      return { id, double: id * 2 }
    })
    try {
      let wrong = 0
      let failed = 0
      let calls = 0
      const until = Date.now() + 6_000
      const worker = async (offset: number): Promise<void> => {
        for (let i = offset; Date.now() < until; i += 8) {
          const id = i % 50
          try {
            const answer = await value(id)
            if (answer.double !== id * 2) wrong++
          } catch {
            failed++
          }
          calls++
        }
      }
      const faults = (async () => {
        await sleep(1_500)
        await server.stop()
        await sleep(2_000)
        await server.start()
      })()
      await Promise.all([...Array.from({ length: 8 }, (_, offset) => worker(offset)), faults])
      expect({ wrong, failed }).toEqual({ wrong: 0, failed: 0 })
      expect(calls).toBeGreaterThan(500)
      expect(metrics.getStats().errors).toBeGreaterThan(0) // the store was down meanwhile
      // Back: within a few seconds (the breaker's cooldown, a refill), a round of calls is all hits.
      const deadline = Date.now() + 15_000
      for (;;) {
        for (let id = 0; id < 50; id++) await value(id)
        const before = metrics.getStats().hits
        for (let id = 0; id < 50; id++) await value(id)
        if (metrics.getStats().hits - before === 50) break
        if (Date.now() > deadline) throw new Error('the cache did not serve hits again within 15 s of the restart')
        await sleep(200)
      }
    } finally {
      await store.close()
      await daprd.close()
    }
  }, 60_000)
}
