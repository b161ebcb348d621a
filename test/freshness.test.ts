/**
 * Fail-safe, timeouts and refresh ahead over HTTP against the test sidecar, both flavours, with one
 * manual clock for the sidecar's TTLs and the library's ages: no test sleeps for a TTL.
 */
import { request } from 'undici'
import { manualClock } from '../src/Clock.js'
import { daprStore } from '../src/stores/DaprStore.js'
import { startTestSidecar } from '../src/testing/index.js'
import { describeFreshness } from './freshnessScenarios.js'

for (const flavour of ['in-memory', 'redis'] as const) {
  describeFreshness(`test sidecar (${flavour})`, async () => {
    const clock = manualClock(Date.UTC(2026, 5, 1))
    const sidecar = await startTestSidecar({ clock, flavour })
    const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 2000, breaker: false })
    return {
      store,
      clock,
      elapse: async (ms) => {
        clock.advance(ms)
      },
      age: async (ms) => {
        clock.advance(ms)
      },
      seedAsPython: async (key, wire, ttlSeconds) => {
        const body = `[{"key": ${JSON.stringify(key)}, "value": ${wire}, "metadata": {"ttlInSeconds": "${ttlSeconds}"}}]`
        const response = await request(`${sidecar.url}/v1.0/state/cache`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
        await response.body.text()
        expect(response.statusCode).toBe(204)
      },
      readAsPython: async (key) => {
        const response = await request(`${sidecar.url}/v1.0/state/cache/${encodeURIComponent(key)}`)
        const body = await response.body.text()
        return response.statusCode === 204 || body === '' ? undefined : body
      },
      teardown: async () => {
        await store.close()
        await sidecar.close()
      },
    }
  })
}
