/**
 * The races of issue 21 (test/raceScenarios.ts) on real daprd with Redis.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import type { Daprd } from '../../src/testing/index.js'
import { startDaprd } from '../../src/testing/index.js'
import { describeRaces } from '../raceScenarios.js'

let daprd: Daprd | undefined
afterAll(async () => {
  await daprd?.close()
})

describeRaces('real daprd (redis)', async () => {
  daprd ??= await startDaprd({ flavour: 'redis' })
  const store = daprStore({ daprUrl: daprd.url, env: {}, timeoutMs: 5000, breaker: false })
  return { store, teardown: () => store.close() }
})
