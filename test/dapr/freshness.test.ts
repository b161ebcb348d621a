/**
 * Fail-safe, timeouts and refresh ahead on real daprd with Redis, the scenarios the test sidecar
 * runs too. Redis's TTLs run on real time here (the scenarios sleep through them, a few seconds in
 * all), and daprd reports no expiry time for a Redis entry: refresh ahead, driven here by the
 * library's clock alone while the values never expire, shows that an entry's age comes from its
 * companion entry, `<key>:meta`.
 */
import { manualClock } from '../../src/Clock.js'
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeFreshness } from '../freshnessScenarios.js'
import { raw, sleep } from './helpers.js'

let daprd: Daprd | undefined
afterAll(async () => {
  await daprd?.close()
})

describeFreshness('real daprd (redis)', async () => {
  daprd ??= await startDaprd({ flavour: 'redis' })
  const url = daprd.url
  const clock = manualClock(Date.now())
  const store = daprStore({ daprUrl: url, env: {}, timeoutMs: 2000, breaker: false })
  return {
    store,
    clock,
    elapse: async (ms) => {
      clock.advance(ms)
      await sleep(ms)
    },
    age: async (ms) => {
      clock.advance(ms)
    },
    seedAsPython: async (key, wire, ttlSeconds) => {
      const body = `[{"key": ${JSON.stringify(key)}, "value": ${wire}, "metadata": {"ttlInSeconds": "${ttlSeconds}"}}]`
      expect((await raw(url, 'POST', '/v1.0/state/cache', body)).status).toBe(204)
    },
    readAsPython: async (key) => {
      const answer = await raw(url, 'GET', `/v1.0/state/cache/${encodeURIComponent(key)}`)
      return answer.status === 204 || answer.body === '' ? undefined : answer.body
    },
    teardown: () => store.close(),
  }
})
