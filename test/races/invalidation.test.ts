/**
 * The races of issue 21 (test/raceScenarios.ts) on the memory store and over HTTP on the test
 * sidecar, both flavours.
 */
import { daprStore } from '../../src/stores/DaprStore.js'
import { memoryStore } from '../../src/stores/MemoryStore.js'
import type { TestSidecar } from '../../src/testing/index.js'
import { startTestSidecar } from '../../src/testing/index.js'
import { describeRaces } from '../raceScenarios.js'

describeRaces('memory store', async () => ({ store: memoryStore(), teardown: () => Promise.resolve() }))

for (const flavour of ['in-memory', 'redis'] as const) {
  let sidecar: TestSidecar | undefined
  afterAll(async () => {
    await sidecar?.close()
  })
  describeRaces(`test sidecar (${flavour})`, async () => {
    sidecar ??= await startTestSidecar({ flavour })
    const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 2000, breaker: false })
    return { store, teardown: () => store.close() }
  })
}
